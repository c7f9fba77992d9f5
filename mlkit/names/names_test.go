package names

import (
	"errors"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	long := strings.Repeat("x", MaxLen+1)
	cases := []struct {
		kind Kind
		name string
		ok   bool
		msg  string
	}{
		{KindConcept, "golden retriever", true, ""},
		{KindConcept, "chat noir é", true, ""},
		{KindConcept, strings.Repeat("é", MaxLen), true, ""},
		{KindConcept, "", false, "empty"},
		{KindConcept, long, false, "at most 64"},
		{KindConcept, "dog\ncat", false, "control character"},
		{KindConcept, "dog\tcat", false, "control character"},
		{KindConcept, " dog", false, "space"},
		{KindConcept, "dog ", false, "space"},
		{KindConcept, "\xff", false, "UTF-8"},
		{KindDataset, "animals v2", true, ""},
		{KindDataset, "a\x00b", false, "control"},
		{KindModel, "head-1.v2_x", true, ""},
		{KindModel, "../evil", false, "letters, digits"},
		{KindModel, ".hidden", false, "letters, digits"},
		{KindModel, "a b", false, "letters, digits"},
		{KindModel, long, false, "at most 64"},
		{KindApp, "animals", true, ""},
		{KindApp, "ani/mals", false, "letters, digits"},
	}
	for _, c := range cases {
		err := Check(c.kind, c.name)
		if (err == nil) != c.ok {
			t.Errorf("%s %q: err %v, want ok=%v", c.kind, c.name, err, c.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), string(c.kind)+" name") {
				t.Errorf("%s %q: error %q should wrap ErrInvalid, name the kind and say %q", c.kind, c.name, err, c.msg)
			}
		}
	}
}

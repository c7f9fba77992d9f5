package dataset

import (
	"errors"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/names"
	"github.com/visionnb/visionnb/mlkit/store"
)

// TestNamesAreCheckedWhereTheyEnter: every way a concept or dataset name enters the app applies the one
// rule of package names, and a concept cannot be renamed onto another one.
func TestNamesAreCheckedWhereTheyEnter(t *testing.T) {
	st := openStore(t)
	ids := addInputs(t, st, []string{"cat 1", "dog 1"})
	bad := []string{"", " cat", "cat ", "two\nlines", "tab\there", strings.Repeat("c", names.MaxLen+1)}
	for _, n := range bad {
		if err := CreateConcepts(ctx, st, n); !errors.Is(err, names.ErrInvalid) {
			t.Errorf("CreateConcepts(%q): %v, want names.ErrInvalid", n, err)
		}
		if _, err := Label(ctx, st, n, []int64{ids["cat 1"]}, Manual()); !errors.Is(err, names.ErrInvalid) {
			t.Errorf("Label(%q): %v, want names.ErrInvalid", n, err)
		}
		if err := RenameConcept(ctx, st, "cat", n); !errors.Is(err, names.ErrInvalid) {
			t.Errorf("RenameConcept(cat, %q): %v, want names.ErrInvalid", n, err)
		}
		if _, err := CreateVersion(ctx, st, n, Counts(1, 0, 0)); !errors.Is(err, names.ErrInvalid) {
			t.Errorf("CreateVersion(%q): %v, want names.ErrInvalid", n, err)
		}
	}
	cs, err := Concepts(ctx, st)
	if err != nil || len(cs) != 2 {
		t.Fatalf("bad names must leave the concepts alone: %v %v", cs, err)
	}
	// Renaming onto an existing concept is a clear error and changes nothing.
	err = RenameConcept(ctx, st, "cat", "dog")
	if !errors.Is(err, store.ErrExists) || !strings.Contains(err.Error(), `"dog" already exists`) {
		t.Fatalf("rename onto an existing concept: %v", err)
	}
	if err := RenameConcept(ctx, st, "cat", "cat"); err != nil {
		t.Fatalf("renaming a concept to its own name is a no-op: %v", err)
	}
	if err := RenameConcept(ctx, st, "ghost", "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("renaming a missing concept to itself: %v", err)
	}
	if err := RenameConcept(ctx, st, "cat", "kitten"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := Concepts(ctx, st); cs[1].Name != "kitten" || cs[1].Inputs != 1 {
		t.Fatalf("after rename: %+v", cs)
	}
}

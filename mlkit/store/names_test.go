package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/visionnb/visionnb/mlkit/names"
)

// TestModelNamesAreChecked: a model name is a folder name, so the store refuses one that could escape or
// clash with the models/ folder, whoever saves it.
func TestModelNamesAreChecked(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, n := range []string{"", "../up", "a/b", ".hidden", "new\nline"} {
		err := st.Tx(ctx, func(tx *Tx) error { _, err := tx.PutModel(ctx, Model{Name: n, Kind: "head"}); return err })
		if !errors.Is(err, names.ErrInvalid) {
			t.Errorf("PutModel(%q): %v, want names.ErrInvalid", n, err)
		}
	}
	if err := st.Tx(ctx, func(tx *Tx) error { _, err := tx.PutModel(ctx, Model{Name: "head-1", Kind: "head", Status: "done"}); return err }); err != nil {
		t.Fatal(err)
	}
}

package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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
	if err := st.Tx(ctx, func(tx *Tx) error {
		_, err := tx.PutModel(ctx, Model{Name: "head-1", Kind: "head", Status: "done"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesAFolderThatIsNotAnApp: opening a photo folder by mistake must not turn it into an app.
func TestOpenRefusesAFolderThatIsNotAnApp(t *testing.T) {
	photos := t.TempDir()
	if err := os.WriteFile(filepath.Join(photos, "cat.jpg"), []byte("jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(photos); !errors.Is(err, ErrNotApp) || !strings.Contains(err.Error(), "cat.jpg") {
		t.Fatalf("Open(photo folder): %v, want ErrNotApp naming what is there", err)
	}
	if _, err := os.Stat(filepath.Join(photos, DBFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open left a database in the photo folder: %v", err)
	}
	if ok, err := IsApp(photos); ok || err != nil {
		t.Fatalf("IsApp(photo folder) = %v, %v", ok, err)
	}
	// An empty folder may become an app, and the app then opens again.
	empty := t.TempDir()
	for i := 0; i < 2; i++ {
		st, err := Open(empty)
		if err != nil {
			t.Fatalf("Open(empty folder) #%d: %v", i, err)
		}
		st.Close()
	}
	if ok, err := IsApp(empty); !ok || err != nil {
		t.Fatalf("IsApp(app) = %v, %v", ok, err)
	}
}

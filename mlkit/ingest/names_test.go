package ingest

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/names"
)

// TestFolderNamesThatAreNotLabels: with LabelsFromFolders, a folder whose name is not a valid concept
// name rejects its files (reason bad_label) and the rest of the upload goes on; Label refuses a bad name
// before anything is read.
func TestFolderNamesThatAreNotLabels(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "dog", "a.png"), encPNG(t, noise(20, 20, 1)))
	write(t, filepath.Join(dir, "cat ", "b.png"), encPNG(t, noise(20, 20, 2)))
	write(t, filepath.Join(dir, strings.Repeat("x", names.MaxLen+1), "c.png"), encPNG(t, noise(20, 20, 3)))
	st := openStore(t)
	rep := mustRun(t, New(st).Folder(dir).LabelsFromFolders())
	if len(rep.Added) != 1 || rep.Added[0].Label != "dog" || len(rep.RejectedBy(ReasonBadLabel)) != 2 {
		t.Fatalf("upload: %s; rejected %+v", rep.Summary(), rep.Rejected)
	}
	if msg := rep.RejectedBy(ReasonBadLabel)[0].Message; !strings.Contains(msg, "concept name") {
		t.Errorf("rejection message %q should say why the folder name is no label", msg)
	}
	_, err := New(st).Folder(dir).Label("two\nlines").Run(context.Background())
	if !errors.Is(err, names.ErrInvalid) {
		t.Fatalf("Label with a newline: %v, want names.ErrInvalid", err)
	}
}

package mlkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/assets"
)

// Without $MLKIT_DATA and without the shared folder, the tutorial says exactly what to set.
func TestTutorialDataSaysWhatToDo(t *testing.T) {
	t.Setenv(DataEnv, "")
	t.Setenv(assets.SharedEnv, filepath.Join(t.TempDir(), "nowhere"))
	_, err := TutorialData()
	if err == nil || !strings.Contains(err.Error(), DataEnv) {
		t.Fatalf("err = %v, want a message naming $%s", err, DataEnv)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "cat"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(DataEnv, dir)
	if got, err := TutorialData(); err != nil || got != dir {
		t.Fatalf("TutorialData() = %q, %v; want %q", got, err, dir)
	}
	t.Setenv(DataEnv, filepath.Join(dir, "missing"))
	if _, err := TutorialData(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a missing $%s folder must be reported, got %v", DataEnv, err)
	}
}

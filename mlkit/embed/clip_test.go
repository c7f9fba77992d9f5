package embed

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// NewCLIP loads the tiny random-weight CLIP fixture (same layout as the hub folder) and
// serves image and text vectors in one space; without weights it says how to get them.
func TestNewCLIP(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	tiny := filepath.Join(filepath.Dir(file), "..", "models", "clip", "testdata", "tiny")
	em, err := NewCLIP(NewOptions().WithDir(tiny))
	if err != nil {
		t.Fatal(err)
	}
	te, ok := em.(TextEmbedder)
	if !ok {
		t.Fatal("CLIP must implement TextEmbedder")
	}
	vs, err := te.EmbedTexts([]string{"a photo of a horse", "a photo of a dog"})
	if err != nil || len(vs) != 2 || len(vs[0]) != em.Dim() {
		t.Fatalf("texts: %d vectors, err %v", len(vs), err)
	}
	if !CLIPAvailable(tiny) {
		t.Fatal("CLIPAvailable(tiny) = false")
	}
	t.Setenv(CLIPDirEnv, "")
	t.Setenv("MLKIT_CACHE", t.TempDir())
	if _, err := CLIPDir("", true); err == nil || !strings.Contains(err.Error(), CLIPDirEnv) {
		t.Fatalf("missing weights error must say what to do, got %v", err)
	}
}

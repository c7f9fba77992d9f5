package mlkit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLRFindLeavesNoModel(t *testing.T) {
	app := headApp(t, 20)
	f, err := app.Train("probe").OnDataset("ds").Head(fakeEmbedder).BatchSize(8).Quiet().LRFind()
	if err != nil {
		t.Fatal(err)
	}
	if len(f.LRs) < 10 || f.Suggestion < f.LRs[0] || f.Suggestion > f.LRs[len(f.LRs)-1] {
		t.Fatalf("%d steps, suggestion %v outside the sweep %v..%v", len(f.LRs), f.Suggestion, f.LRs[0], f.LRs[len(f.LRs)-1])
	}
	if !(f.Suggestion >= 1e-5 && f.Suggestion <= 1) {
		t.Errorf("suggested learning rate %v outside the sane range [1e-5, 1] for Adam on a separable head", f.Suggestion)
	}
	if !strings.Contains(f.String(), "suggested learning rate") {
		t.Errorf("String() = %q", f.String())
	}
	if _, err := os.Stat(filepath.Join(app.Dir(), "models", "probe")); !os.IsNotExist(err) {
		t.Errorf("lr_find created the model's folder (stat: %v)", err)
	}
	if _, err := app.LoadModel("probe"); err == nil {
		t.Errorf("lr_find recorded a model")
	}
	png, err := f.Chart().PNG()
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("chart: %d bytes, %v", len(png), err)
	}
	// The suggestion trains: Run with it works and saves the model as usual.
	m, err := app.Train("probe").OnDataset("ds").Head(fakeEmbedder).BatchSize(8).LR(f.Suggestion).Epochs(5).Quiet().Run()
	if err != nil {
		t.Fatal(err)
	}
	if m.Reused {
		t.Errorf("model reused after lr_find: something was saved")
	}
}

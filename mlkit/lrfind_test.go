package mlkit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/store"
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
	if f.Cached {
		t.Errorf("first sweep marked cached")
	}
	// The same call again (a re-run cell) reads the recorded sweep back; other options sweep anew.
	again, err := app.Train("probe").OnDataset("ds").Head(fakeEmbedder).BatchSize(8).Quiet().LRFind()
	if err != nil || !again.Cached || again.Suggestion != f.Suggestion || len(again.LRs) != len(f.LRs) {
		t.Fatalf("lr_find again: cached %v, suggestion %v (first %v), %v", again != nil && again.Cached, again, f.Suggestion, err)
	}
	other, err := app.Train("probe").OnDataset("ds").Head(fakeEmbedder).BatchSize(4).Quiet().LRFind()
	if err != nil || other.Cached {
		t.Fatalf("lr_find with another batch size must sweep again: cached %v, %v", other != nil && other.Cached, err)
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

func TestCollapsedModelSummary(t *testing.T) {
	app := headApp(t, 15)
	ins, err := app.Inputs()
	if err != nil {
		t.Fatal(err)
	}
	// Every input has the same vector under "constant": a head on it predicts one class for all.
	var ids []int64
	var vecs [][]float32
	for _, in := range ins {
		ids, vecs = append(ids, in.ID), append(vecs, []float32{0.5, 0.5, 0.5, 0.5})
	}
	if err := app.Store().Tx(bg, func(tx *store.Tx) error { return tx.PutEmbeddings(bg, "constant", ids, vecs) }); err != nil {
		t.Fatal(err)
	}
	m, err := app.Train("flat").OnDataset("ds").Head("constant").Epochs(3).Quiet().Run()
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(m.Summary, &s); err != nil {
		t.Fatal(err)
	}
	if !s.Collapsed || s.CollapsedTo == "" || s.PredictedShare[s.CollapsedTo] != 1 || len(s.PredictedShare) != 2 {
		t.Errorf("summary of the constant-input head: %s", m.Summary)
	}
	if !strings.Contains(m.String(), "COLLAPSED: 100% of validation predictions are") {
		t.Errorf("String() = %q", m.String())
	}
	loaded, err := app.LoadModel("flat")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(loaded.String(), "COLLAPSED") {
		t.Errorf("loaded model's String() = %q", loaded.String())
	}
	healthy, err := app.Train("ok").OnDataset("ds").Head(fakeEmbedder).Epochs(30).LR(0.05).Quiet().Run()
	if err != nil {
		t.Fatal(err)
	}
	var hs Summary
	if err := json.Unmarshal(healthy.Summary, &hs); err != nil {
		t.Fatal(err)
	}
	if hs.Collapsed || strings.Contains(healthy.String(), "COLLAPSED") || len(hs.PredictedShare) != 2 {
		t.Errorf("healthy head (validation accuracy %.3f): summary %s", hs.ValAccuracy, healthy.Summary)
	}
}

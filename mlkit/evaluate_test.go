package mlkit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/internal/testshared"
	"github.com/visionnb/visionnb/mlkit/train"
	"github.com/visionnb/visionnb/mlkit/view"
)

// TestTrainEvaluateSelectTest runs steps 6-12 with transfer-learning heads on the real photos: train two
// heads, evaluate on validation, compare, select, evaluate once on test, and check the one-time rule.
func TestTrainEvaluateSelectTest(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the real-photo training test in -short mode")
	}
	photos := testshared.Animals5(t)
	testshared.MobileNetV2(t)
	view.SetOutputDir(t.TempDir())
	app, err := Create(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Upload().Folder(photos).LabelsFromFolders().Run(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Split("animals", Fractions(0.7, 0.15, 0.15).WithSeed(7)); err != nil {
		t.Fatal(err)
	}
	// Bad input fails before any compute.
	if _, err := app.Train("x").Head(DefaultEmbedder).OnDataset("nope").Run(); err == nil {
		t.Fatal("training on a missing dataset must fail")
	}
	if _, err := app.Train("bad name!").Head(DefaultEmbedder).OnDataset("animals").Run(); err == nil {
		t.Fatal("a bad model name must fail")
	}
	linear, err := app.Train("linear").Head(DefaultEmbedder).OnDataset("animals").Epochs(60).Quiet().Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(linear)
	hidden, err := app.Train("hidden").Head(DefaultEmbedder).OnDataset("animals").Epochs(60).Quiet().
		TuneHead(func(h *train.HeadBuilder) *train.HeadBuilder { return h.Hidden(128).Dropout(0.2) }).Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(hidden)
	if err := linear.ShowCurves(); err != nil {
		t.Fatal(err)
	}
	ev, err := app.Evaluate("linear", "animals", "validation")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(ev)
	if ev.Report.Accuracy < 0.75 || ev.Report.MacroROCAUC < 0.9 {
		t.Errorf("linear head on MobileNetV2 embeddings: %s", ev)
	}
	again, err := app.Evaluate("linear", "animals", "validation", Threshold(0.3))
	if err != nil || !again.Reused || again.Report.Threshold != 0.3 || again.Report.Accuracy != ev.Report.Accuracy {
		t.Fatalf("a stored evaluation must be reused (re-thresholded): %+v %v", again, err)
	}
	if err := ev.Show(); err != nil {
		t.Fatal(err)
	}
	if err := ev.ShowCurves(); err != nil {
		t.Fatal(err)
	}
	if err := ev.ShowTopLosses(6); err != nil {
		t.Fatal(err)
	}
	if err := ev.ShowCell("dog", "sheep"); err != nil {
		t.Fatal(err)
	}
	// The test split needs a selection first.
	if _, err := app.Evaluate("linear", "animals", "test"); !errors.Is(err, ErrTestRule) {
		t.Fatalf("test before selection: err = %v, want ErrTestRule", err)
	}
	if _, err := app.Select("animals", "test", "accuracy"); err == nil {
		t.Fatal("selecting on test must be refused")
	}
	cmp, err := app.Compare("animals", "validation", "linear", "hidden")
	if err != nil {
		t.Fatal(err)
	}
	if err := cmp.Show(); err != nil {
		t.Fatal(err)
	}
	ch, err := app.Select("animals", "validation", "macro_roc_auc", "linear", "hidden")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Show(); err != nil {
		t.Fatal(err)
	}
	loser := "linear"
	if ch.Winner == "linear" {
		loser = "hidden"
	}
	final, err := app.Evaluate(ch.Winner, "animals", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(final)
	if final.Flag() != "" {
		t.Fatalf("the selected model's first test run must not be flagged: %s", final.Flag())
	}
	// Re-running the cell returns the same final result, not a second evaluation.
	same, err := app.Evaluate(ch.Winner, "animals", "test")
	if err != nil || same.ID != final.ID {
		t.Fatalf("re-evaluating on test must return the recorded result: %v %v", same, err)
	}
	if _, err := app.Evaluate(ch.Winner, "animals", "test", Recompute()); !errors.Is(err, ErrTestRule) {
		t.Fatalf("a second test run without override: err = %v", err)
	}
	if _, err := app.Evaluate(loser, "animals", "test"); !errors.Is(err, ErrTestRule) {
		t.Fatalf("test of a model that was not selected: err = %v", err)
	}
	flagged, err := app.Evaluate(loser, "animals", "test", OverrideTestRule("curiosity"))
	if err != nil || !strings.Contains(flagged.Flag(), "curiosity") {
		t.Fatalf("override must work and be flagged: %v %v", flagged, err)
	}
	rec, err := app.TestHistory("animals")
	if err != nil || len(rec.Runs) != 2 || rec.Selected != ch.Winner || rec.Runs[1].Flag() == "" {
		t.Fatalf("test record: %+v %v", rec, err)
	}
	if err := rec.Show(); err != nil {
		t.Fatal(err)
	}
	// Re-running a training cell (same name, same settings) keeps the model's record and its test record.
	if _, err := app.Train("linear").Head(DefaultEmbedder).OnDataset("animals").Epochs(60).Quiet().Run(); err != nil {
		t.Fatal(err)
	}
	if rec2, err := app.TestHistory("animals"); err != nil || len(rec2.Runs) != 2 || rec2.Selected != ch.Winner {
		t.Fatalf("re-running training erased the test record: %+v %v", rec2, err)
	}
	// Different settings under the same name are refused, and the finished model stays usable.
	if _, err := app.Train("linear").Head(DefaultEmbedder).OnDataset("animals").Epochs(7).Quiet().Run(); err == nil {
		t.Fatal("retraining under the same name with other settings must be refused")
	}
	if _, err := app.Evaluate("linear", "animals", "validation"); err != nil {
		t.Fatalf("the finished model must stay usable: %v", err)
	}
	// Likely label errors (a new dataset version, after the test record is checked): mislabel six inputs on purpose; cross-validated predictions must flag most.
	dogs, _ := app.InputsLabelled("dog")
	var planted []int64
	for _, in := range dogs[:6] {
		planted = append(planted, in.ID)
	}
	if _, err := app.Relabel("sheep", planted...); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Split("animals", Fractions(0.7, 0.15, 0.15).WithSeed(7)); err != nil {
		t.Fatal(err)
	}
	issues, err := app.LabelErrors(DefaultEmbedder, "animals", Folds(5), MinConfidence(0.5))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, is := range issues.Items {
		for _, id := range planted {
			if is.InputID == id && is.Suggested == "dog" {
				found++
			}
		}
	}
	t.Logf("label errors: %d flagged, %d of 6 planted found", len(issues.Items), found)
	if found < 4 {
		t.Errorf("found %d of 6 planted label errors", found)
	}
	if err := issues.Show(); err != nil {
		t.Fatal(err)
	}
	leaks, err := app.Leakage(DefaultEmbedder, "animals")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("leakage: %d near-duplicate pairs across splits", len(leaks.Pairs))
	if err := leaks.Show(); err != nil {
		t.Fatal(err)
	}
	// The model evaluated on another app's dataset: four new photos per class from a second source.
	other, err := Create(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	src := t.TempDir()
	for _, c := range []string{"butterfly", "dog", "elephant", "horse", "sheep"} {
		entries, _ := os.ReadDir(filepath.Join(photos, c))
		os.MkdirAll(filepath.Join(src, c), 0o755)
		for _, e := range entries[len(entries)-4:] {
			data, _ := os.ReadFile(filepath.Join(photos, c, e.Name()))
			os.WriteFile(filepath.Join(src, c, e.Name()), data, 0o644)
		}
	}
	if _, err := other.Upload().Folder(src).LabelsFromFolders().Run(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Split("new", Fractions(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	onOther, err := app.EvaluateOn(other, "linear", "new", "validation")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(onOther)
	if onOther.Report.Examples != 20 || !strings.HasSuffix(onOther.Dataset, ":new") {
		t.Fatalf("evaluation on the other app: %s", onOther)
	}
	if err := onOther.ShowTopLosses(3); err != nil {
		t.Fatal(err)
	}
}

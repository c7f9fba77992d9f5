package mlkit

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/train"
)

// TestEvaluateReadsWhatTrainingRecorded: evaluating a deep model on its training and validation splits
// reads the probabilities its training recorded (the model need not even load: its checkpoints are
// removed here), and gives the same numbers as running the model (Recompute, before the removal); the
// test split, which training never saw, is always predicted by the model.
func TestEvaluateReadsWhatTrainingRecorded(t *testing.T) {
	app := headApp(t, 6)
	m, err := app.Train("d").OnDataset("ds").Deep(tinyDense.Name).Size(32).Epochs(2).BatchSize(4).Quiet().Run()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(app.Dir(), m.Dir)
	if _, err := os.Stat(filepath.Join(dir, train.RecordedFile)); err != nil {
		t.Fatalf("training recorded nothing: %v", err)
	}
	ckpts := filepath.Join(dir, train.CheckpointDir)
	aside := filepath.Join(t.TempDir(), "checkpoints")
	if err := os.Rename(ckpts, aside); err != nil {
		t.Fatal(err)
	}
	read := map[Split]*Evaluation{}
	for _, split := range []Split{SplitTrain, SplitValidation} {
		if read[split], err = app.Evaluate("d", "ds", split); err != nil {
			t.Fatalf("%s without the model's weights: %v", split, err)
		}
	}
	if _, err := app.Evaluate("d", "ds", SplitValidation, Recompute()); err == nil || !strings.Contains(err.Error(), "loading model") {
		t.Errorf("Recompute without the model's weights: %v, want a failure to load the model", err)
	}
	if _, err := app.Evaluate("d", "ds", SplitTest, OverrideTestRule("test of the record")); err == nil || !strings.Contains(err.Error(), "loading model") {
		t.Errorf("the test split without the model's weights: %v, want a failure to load the model", err)
	}
	if err := os.Rename(aside, ckpts); err != nil {
		t.Fatal(err)
	}
	for _, split := range []Split{SplitTrain, SplitValidation} {
		ran, err := app.Evaluate("d", "ds", split, Recompute())
		if err != nil {
			t.Fatal(err)
		}
		if len(ran.Predictions.Probs) != len(read[split].Predictions.Probs) || len(ran.Predictions.Probs) == 0 {
			t.Fatalf("%s: %d predictions run, %d read", split, len(ran.Predictions.Probs), len(read[split].Predictions.Probs))
		}
		for i, row := range ran.Predictions.Probs {
			for c := range row {
				if d := math.Abs(float64(row[c] - read[split].Predictions.Probs[i][c])); d > 1e-5 {
					t.Fatalf("%s image %d class %d: model %v, recorded %v", split, i, c, row[c], read[split].Predictions.Probs[i][c])
				}
			}
		}
	}
	out := filepath.Join(t.TempDir(), "export")
	if err := app.ExportModel("d", out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, train.RecordedFile)); !os.IsNotExist(err) {
		t.Errorf("the export carries the training record (%v): it names the app's training images", err)
	}
}

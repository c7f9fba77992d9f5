package train

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestRecordedPredictionsMatchAFreshPrediction: a deep run with an output directory records, at its end,
// the probabilities its final weights give every training and validation image; they equal what the
// saved model predicts when loaded again, images outside the run are not in the record, and a damaged
// record is an error rather than wrong numbers.
func TestRecordedPredictionsMatchAFreshPrediction(t *testing.T) {
	classes, trainSet, valSet := animals(t, 4, 2)
	dir := t.TempDir()
	if _, err := deepRun(classes, trainSet, valSet, deepOptions(t, dir).Epochs(2)).Fit(); err != nil {
		t.Fatal(err)
	}
	var paths, shas []string
	for _, e := range append(append([]Example{}, trainSet...), valSet...) {
		sum, err := fileSHA256(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		paths, shas = append(paths, e.Path), append(shas, sum)
	}
	got, ok, err := Recorded(dir, shas)
	if err != nil || !ok {
		t.Fatalf("Recorded: ok=%v err=%v", ok, err)
	}
	p, err := LoadOn(dir, testBackend(t))
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.Predict(paths)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		for c := range want[i] {
			if d := math.Abs(float64(got[i][c] - want[i][c])); d > 1e-5 {
				t.Fatalf("image %d class %d: recorded %v, predicted %v", i, c, got[i][c], want[i][c])
			}
		}
	}
	if _, ok, err := Recorded(dir, append(shas[:1:1], "00"+shas[0][2:])); ok || err != nil {
		t.Errorf("an image outside the run: ok=%v err=%v, want a miss", ok, err)
	}
	if _, ok, err := Recorded(t.TempDir(), shas); ok || err != nil {
		t.Errorf("a folder without a record: ok=%v err=%v, want a miss", ok, err)
	}
	if err := os.WriteFile(filepath.Join(dir, RecordedFile), []byte(`{"classes": 3, "sha256": ["a"], "probs": [[1]]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Recorded(dir, shas); err == nil {
		t.Error("an inconsistent record was accepted")
	}
}

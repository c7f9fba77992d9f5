package eval

import (
	"math"
	"testing"
)

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6 && !(math.IsNaN(got) && math.IsNaN(want)) {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

// The scikit-learn documentation example: roc_auc_score = 0.75, average_precision_score = 0.8333.
func TestROCAUCAndAPMatchScikitLearnExample(t *testing.T) {
	scores := []float32{0.1, 0.4, 0.35, 0.8}
	pos := []bool{false, false, true, true}
	near(t, "auc", ROCAUC(scores, pos), 0.75)
	near(t, "ap", AveragePrecision(scores, pos), 5.0/6.0)
	// Ties count one half: all-equal scores give 0.5.
	near(t, "tied auc", ROCAUC([]float32{0.3, 0.3, 0.3, 0.3}, pos), 0.5)
	if !math.IsNaN(ROCAUC(scores, []bool{true, true, true, true})) {
		t.Error("auc with no negatives must be NaN")
	}
	roc := ROCCurve(scores, pos)
	if first, last := roc[0], roc[len(roc)-1]; first.X != 0 || first.Y != 0 || last.X != 1 || last.Y != 1 {
		t.Errorf("roc curve must run (0,0)->(1,1), got %v .. %v", first, last)
	}
}

func TestEvaluateThreeClasses(t *testing.T) {
	p := Predictions{
		Classes: []string{"cat", "dog", "horse"},
		Labels:  []int{0, 0, 1, 1, 2, 2},
		Probs: [][]float32{
			{0.8, 0.1, 0.1}, // right
			{0.3, 0.6, 0.1}, // wrong: dog
			{0.1, 0.7, 0.2}, // right
			{0.2, 0.5, 0.3}, // right, below no threshold
			{0.1, 0.2, 0.7}, // right
			{0.5, 0.1, 0.4}, // wrong: cat
		},
		IDs: []int64{10, 11, 12, 13, 14, 15},
	}
	r, err := Evaluate(p, Options{Threshold: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "accuracy", r.Accuracy, 4.0/6.0)
	if !math.IsNaN(r.Top5) {
		t.Errorf("top5 with 3 classes should be NaN, got %v", r.Top5)
	}
	wantConf := [][]int{{1, 1, 0}, {0, 2, 0}, {1, 0, 1}}
	for i := range wantConf {
		for j := range wantConf[i] {
			if r.Confusion[i][j] != wantConf[i][j] {
				t.Fatalf("confusion = %v, want %v", r.Confusion, wantConf)
			}
		}
	}
	near(t, "avgprob[0][1]", r.AvgProb[0][1], (0.1+0.6)/2)
	// cat at 0.5: predicted for examples 0 and 5 -> TP 1 (ex 0), FP 1 (ex 5), FN 1 (ex 1).
	cat := r.Concepts[0]
	if cat.TP != 1 || cat.FP != 1 || cat.FN != 1 || cat.Labelled != 2 || cat.Predicted != 2 {
		t.Errorf("cat row = %+v", cat)
	}
	near(t, "cat precision", cat.Precision, 0.5)
	near(t, "cat recall", cat.Recall, 0.5)
	// A stricter threshold changes every threshold metric.
	r2, _ := Evaluate(p, Options{Threshold: 0.75})
	if r2.Concepts[0].Predicted != 1 || r2.Total.Predicted != 1 {
		t.Errorf("threshold 0.75: cat predicted %d, total %d", r2.Concepts[0].Predicted, r2.Total.Predicted)
	}
	near(t, "macro auc unchanged by threshold", r2.MacroROCAUC, r.MacroROCAUC)
	// cat AUC by hand: positives {0.8,0.3}, negatives {0.1,0.2,0.1,0.5}: pairs won 4+3=7 of 8.
	near(t, "cat auc", cat.ROCAUC, 7.0/8.0)
	near(t, "mean conf wrong", r.MeanConfidenceWrong, (0.6+0.5)/2)
	top := TopLosses(p, 2)
	if top[0].ID != 11 || top[1].ID != 15 {
		t.Errorf("top losses = %+v", top)
	}
	if cell := Cell(p, 2, 0); len(cell) != 1 || cell[0] != 5 {
		t.Errorf("cell(horse->cat) = %v", cell)
	}
	sum := 0
	for _, b := range r.CalibrationBins {
		sum += b.Count
	}
	if sum != 6 || r.ECE <= 0 || r.ECE > 1 {
		t.Errorf("calibration: %d counted, ece %v", sum, r.ECE)
	}
}

func TestValidateErrors(t *testing.T) {
	bad := []Predictions{
		{Classes: []string{"a"}, Labels: []int{0}, Probs: [][]float32{{1}}},
		{Classes: []string{"a", "b"}},
		{Classes: []string{"a", "b"}, Labels: []int{2}, Probs: [][]float32{{0.5, 0.5}}},
		{Classes: []string{"a", "b"}, Labels: []int{0}, Probs: [][]float32{{0.5}}},
		{Classes: []string{"a", "b"}, Labels: []int{0}, Probs: [][]float32{{float32(math.NaN()), 0.5}}},
	}
	for i, p := range bad {
		if _, err := Evaluate(p, Options{}); err == nil {
			t.Errorf("case %d: expected an error", i)
		}
	}
}

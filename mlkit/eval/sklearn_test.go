package eval

import (
	"encoding/json"
	"os"
	"testing"
)

// TestMatchesScikitLearn compares every metric with scikit-learn on 300 random 5-class predictions
// (testdata/gen_sklearn.py made the fixture).
func TestMatchesScikitLearn(t *testing.T) {
	raw, err := os.ReadFile("testdata/sklearn_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Classes          []string
		Labels           []int
		Probs            [][]float32
		Threshold        float64
		Accuracy         float64
		Confusion        [][]int
		ROCAUC           []float64 `json:"roc_auc"`
		MacroROCAUC      float64   `json:"macro_roc_auc"`
		AveragePrecision []float64 `json:"average_precision"`
		Precision        []float64
		Recall           []float64
		F1               []float64
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	r, err := Evaluate(Predictions{Classes: ref.Classes, Labels: ref.Labels, Probs: ref.Probs}, Options{Threshold: ref.Threshold})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "accuracy", r.Accuracy, ref.Accuracy)
	near(t, "macro auc", r.MacroROCAUC, ref.MacroROCAUC)
	for c := range ref.Classes {
		row := r.Concepts[c]
		near(t, "auc "+row.Concept, row.ROCAUC, ref.ROCAUC[c])
		near(t, "ap "+row.Concept, row.AveragePrecision, ref.AveragePrecision[c])
		near(t, "precision "+row.Concept, nanToZero(row.Precision), ref.Precision[c])
		near(t, "recall "+row.Concept, row.Recall, ref.Recall[c])
		near(t, "f1 "+row.Concept, row.F1, ref.F1[c])
		for j := range ref.Classes {
			if r.Confusion[c][j] != ref.Confusion[c][j] {
				t.Fatalf("confusion[%d][%d] = %d, want %d", c, j, r.Confusion[c][j], ref.Confusion[c][j])
			}
		}
	}
}

func nanToZero(x float64) float64 {
	if x != x {
		return 0
	}
	return x
}

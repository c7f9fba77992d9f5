package eval

import (
	"math"
	"sort"
)

// ClassProb is one class with its predicted probability.
type ClassProb struct {
	Class string
	Prob  float32
}

// TopK returns the k most probable classes of one example's probabilities (in classes order), highest
// first; equal probabilities keep the classes' order. Fewer come back when there are fewer classes.
func TopK(classes []string, probs []float32, k int) []ClassProb {
	out := make([]ClassProb, 0, len(classes))
	for i, c := range classes {
		out = append(out, ClassProb{Class: c, Prob: probs[i]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Prob > out[j].Prob })
	return out[:max(0, min(k, len(out)))]
}

// ConfusedCell is one off-diagonal cell of a confusion matrix: examples of class Actual predicted as
// class Predicted (indices into the report's Classes).
type ConfusedCell struct {
	Actual, Predicted int
	Count             int
}

// MostConfused returns the n busiest off-diagonal cells of the report's confusion matrix, most examples
// first (ties in row, then column order); cells with no example are left out.
func (r *Report) MostConfused(n int) []ConfusedCell {
	var cells []ConfusedCell
	for i, row := range r.Confusion {
		for j, c := range row {
			if i != j && c > 0 {
				cells = append(cells, ConfusedCell{Actual: i, Predicted: j, Count: c})
			}
		}
	}
	sort.SliceStable(cells, func(a, b int) bool { return cells[a].Count > cells[b].Count })
	return cells[:max(0, min(n, len(cells)))]
}

// NullIfNaN returns x, or nil when x is NaN or infinite: JSON has no such numbers, so a metric that is not
// defined (a ROC AUC without negatives, say) is written as null.
func NullIfNaN(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return x
}

// JSON returns the report's headline as JSON-ready values (undefined metrics as null): classes,
// examples, threshold, accuracy, top5, macro_roc_auc, macro_f1, log_loss, ece and the confusion matrix.
// This is the form an app stores with each evaluation.
func (r *Report) JSON() map[string]any {
	f := NullIfNaN
	return map[string]any{"classes": r.Classes, "examples": r.Examples, "threshold": r.Threshold, "accuracy": f(r.Accuracy),
		"top5": f(r.Top5), "macro_roc_auc": f(r.MacroROCAUC), "macro_f1": f(r.MacroF1), "log_loss": f(r.LogLoss), "ece": f(r.ECE),
		"confusion": r.Confusion}
}

// ConceptsJSON returns the per-concept table as JSON-ready rows (undefined rates as null), the total row
// last: concept, roc_auc, labelled, predicted, tp, fn, fp, recall, precision, f1.
func (r *Report) ConceptsJSON() []map[string]any {
	f := NullIfNaN
	var out []map[string]any
	for _, row := range append(append([]ConceptRow(nil), r.Concepts...), r.Total) {
		out = append(out, map[string]any{"concept": row.Concept, "roc_auc": f(row.ROCAUC), "labelled": row.Labelled,
			"predicted": row.Predicted, "tp": row.TP, "fn": row.FN, "fp": row.FP, "recall": f(row.Recall),
			"precision": f(row.Precision), "f1": f(row.F1)})
	}
	return out
}

// RankingJSON returns the ranking as JSON-ready rows, best first: {"model": name, <metric>: value}, an
// undefined value as null. This is the form an app records with each selection.
func (c *Choice) RankingJSON() []map[string]any {
	var out []map[string]any
	for _, r := range c.Ranking {
		v, _, _ := r.Report.Metric(c.Metric)
		out = append(out, map[string]any{"model": r.Model, string(c.Metric): NullIfNaN(v)})
	}
	return out
}

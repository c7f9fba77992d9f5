package eval

import (
	"math"
	"testing"
)

func TestSelectByMetric(t *testing.T) {
	a := &Report{Classes: []string{"x", "y"}, Examples: 10, Accuracy: 0.9, MacroROCAUC: 0.91, LogLoss: 0.3}
	b := &Report{Classes: []string{"x", "y"}, Examples: 10, Accuracy: 0.8, MacroROCAUC: 0.95, LogLoss: 0.2}
	c := &Report{Classes: []string{"x", "y"}, Examples: 10, Accuracy: 0.7, MacroROCAUC: math.NaN(), LogLoss: 0.1}
	ch, err := Select([]Candidate{{"a", a}, {"b", b}, {"c", c}}, MetricMacroROCAUC)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Winner != "b" || ch.Ranking[2].Model != "c" {
		t.Fatalf("auc winner %q ranking %v", ch.Winner, ch.Ranking)
	}
	ch, _ = Select([]Candidate{{"a", a}, {"b", b}, {"c", c}}, "accuracy")
	if ch.Winner != "a" {
		t.Fatalf("accuracy winner %q", ch.Winner)
	}
	ch, _ = Select([]Candidate{{"a", a}, {"b", b}, {"c", c}}, "log_loss")
	if ch.Winner != "c" {
		t.Fatalf("log-loss (lower is better) winner %q", ch.Winner)
	}
	if _, err := Select([]Candidate{{"a", a}}, "bogus"); err == nil {
		t.Fatal("unknown metric must fail")
	}
	d := &Report{Classes: []string{"x", "y"}, Examples: 11}
	if _, err := Select([]Candidate{{"a", a}, {"d", d}}, "accuracy"); err == nil {
		t.Fatal("reports on different data must not be compared")
	}
}

func TestLeakageFindsCrossSplitNearDuplicates(t *testing.T) {
	train := SplitVectors{Split: "train", IDs: []int64{1, 2}, Vectors: [][]float32{{1, 0, 0}, {0, 1, 0}}}
	test := SplitVectors{Split: "test", IDs: []int64{3, 4}, Vectors: [][]float32{{0.99, 0.05, 0}, {0, 0, 1}}}
	got, err := Leakage([]SplitVectors{train, test}, 0.97)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].A != 1 || got[0].B != 3 || got[0].SplitB != "test" {
		t.Fatalf("leakage = %+v", got)
	}
	if _, err := Leakage(nil, 0); err == nil {
		t.Fatal("threshold 0 must fail")
	}
}

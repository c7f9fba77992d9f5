package eval

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TopK ranks classes by probability, keeps the classes' order on ties and never returns more classes
// than there are.
func TestTopKOrdersAndKeepsTies(t *testing.T) {
	got := TopK([]string{"a", "b", "c", "d"}, []float32{0.2, 0.4, 0.2, 0.2}, 3)
	if len(got) != 3 || got[0].Class != "b" || got[1].Class != "a" || got[2].Class != "c" {
		t.Fatalf("TopK = %+v, want b, a, c", got)
	}
	if n := len(TopK([]string{"a", "b"}, []float32{0.5, 0.5}, 5)); n != 2 {
		t.Fatalf("TopK of 2 classes with k=5 gave %d", n)
	}
	if Argmax([]float32{0.1, 0.7, 0.7}) != 1 || Argmax(nil) != 0 {
		t.Fatal("Argmax must return the first highest value")
	}
}

// MostConfused lists off-diagonal cells only, busiest first, ties in row then column order.
func TestMostConfusedBusiestOffDiagonalFirst(t *testing.T) {
	r := &Report{Confusion: [][]int{
		{9, 1, 3},
		{3, 8, 0},
		{0, 2, 7},
	}}
	got := r.MostConfused(10)
	want := []ConfusedCell{{0, 2, 3}, {1, 0, 3}, {2, 1, 2}, {0, 1, 1}}
	if len(got) != len(want) {
		t.Fatalf("MostConfused = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("MostConfused = %+v, want %+v", got, want)
		}
	}
	if one := r.MostConfused(1); len(one) != 1 || one[0] != want[0] {
		t.Fatalf("MostConfused(1) = %+v", one)
	}
	if none := (&Report{Confusion: [][]int{{4, 0}, {0, 5}}}).MostConfused(3); len(none) != 0 {
		t.Fatalf("a diagonal matrix has no confused cell, got %+v", none)
	}
}

// A report with undefined metrics (NaN) encodes as JSON with nulls, and the concept rows do not write
// into the report's own Concepts (the total row is appended to a copy).
func TestReportJSONNullsAndKeepsConcepts(t *testing.T) {
	p := Predictions{Classes: []string{"cat", "dog"}, Labels: []int{0, 0}, Probs: [][]float32{{0.9, 0.1}, {0.4, 0.6}}}
	r, err := Evaluate(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(r.MacroROCAUC) {
		t.Fatalf("one class only: macro ROC AUC should be NaN, got %v", r.MacroROCAUC)
	}
	r.Concepts = append(make([]ConceptRow, 0, 8), r.Concepts...) // spare capacity, as a caller may leave
	before := len(r.Concepts)
	raw, err := json.Marshal(map[string]any{"report": r.JSON(), "concepts": r.ConceptsJSON()})
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !strings.Contains(string(raw), `"macro_roc_auc":null`) || !strings.Contains(string(raw), `"roc_auc":null`) {
		t.Fatalf("NaN must be null: %s", raw)
	}
	if rows := r.ConceptsJSON(); len(rows) != before+1 || rows[before]["concept"] != r.Total.Concept {
		t.Fatalf("concept rows: %v", rows)
	}
	if len(r.Concepts) != before || r.Concepts[:cap(r.Concepts)][before].Concept != "" {
		t.Fatal("ConceptsJSON wrote the total row into the report's Concepts")
	}
	if NullIfNaN(math.Inf(1)) != nil || NullIfNaN(0.5) != 0.5 {
		t.Fatal("NullIfNaN")
	}
	ch := &Choice{Metric: MetricMacroROCAUC, Ranking: []Candidate{{Model: "m", Report: r}}}
	if rk := ch.RankingJSON(); len(rk) != 1 || rk[0]["model"] != "m" || rk[0]["macro_roc_auc"] != nil {
		t.Fatalf("RankingJSON = %v", rk)
	}
}

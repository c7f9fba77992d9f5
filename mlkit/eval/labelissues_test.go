package eval

import (
	"math"
	"reflect"
	"testing"
)

// nine examples of three classes, two of them mislabelled: example 2 (labelled 0, of class 1) and
// example 8 (labelled 2, of class 0). Example 4 reaches no threshold.
var (
	cjLabels = []int{0, 0, 0, 1, 1, 1, 2, 2, 2}
	cjProbs  = [][]float32{
		{.9, .05, .05}, {.8, .1, .1}, {.1, .8, .1},
		{.1, .8, .1}, {.2, .7, .1}, {.1, .9, 0},
		{.1, .1, .8}, {0, .2, .8}, {.7, .1, .2},
	}
)

// TestConfidentJointByHand checks the thresholds, the confident guesses, the joint and its calibration
// against values worked out by hand (thresholds 0.6, 0.8, 0.6).
func TestConfidentJointByHand(t *testing.T) {
	cj, err := ComputeConfidentJoint(cjLabels, cjProbs)
	if err != nil {
		t.Fatal(err)
	}
	for j, want := range []float64{0.6, 0.8, 0.6} {
		if math.Abs(cj.Thresholds[j]-want) > 1e-6 {
			t.Errorf("threshold %d = %v, want %v", j, cj.Thresholds[j], want)
		}
	}
	if want := []int{0, 0, 1, 1, -1, 1, 2, 2, 0}; !reflect.DeepEqual(cj.Guess, want) {
		t.Errorf("guesses %v, want %v", cj.Guess, want)
	}
	if want := [][]int{{2, 1, 0}, {0, 2, 0}, {1, 0, 2}}; !reflect.DeepEqual(cj.Counts, want) {
		t.Errorf("joint %v, want %v", cj.Counts, want)
	}
	// Row 1 has 3 labels but 2 confident counts: it scales to 3.
	if want := [][]int{{2, 1, 0}, {0, 3, 0}, {1, 0, 2}}; !reflect.DeepEqual(cj.Calibrated(), want) {
		t.Errorf("calibrated %v, want %v", cj.Calibrated(), want)
	}
}

// TestFindLabelIssuesByHand: every filter finds the two planted mislabels, least self-confident first;
// the baseline (predicted != given) finds the same here; ranking by normalised margin can reorder.
func TestFindLabelIssuesByHand(t *testing.T) {
	for _, f := range []IssueFilter{"", FilterPruneByNoiseRate, FilterPruneByClass, FilterBoth, FilterConfidentLearning, FilterPredictedNotGiven} {
		got, err := FindLabelIssues(cjLabels, cjProbs, LabelIssueOptions{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{2, 8}; !reflect.DeepEqual(got, want) {
			t.Errorf("filter %q: %v, want %v", f, got, want)
		}
	}
	// Example 8 with p(given) 0.05 but a near tie: self-confidence puts it first, the margin does not.
	probs := append([][]float32(nil), cjProbs...)
	probs[8] = []float32{.5, .45, .05}
	for rank, want := range map[IssueRank][]int{RankSelfConfidence: {8, 2}, RankNormalizedMargin: {2, 8}} {
		got, err := FindLabelIssues(cjLabels, probs, LabelIssueOptions{Filter: FilterPredictedNotGiven, Rank: rank})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("rank %q: %v, want %v", rank, got, want)
		}
	}
	q, _ := LabelQuality(cjLabels, probs, RankNormalizedMargin)
	if math.Abs(q[2]-0.15) > 1e-6 {
		t.Errorf("normalised margin of example 2 = %v, want 0.15", q[2])
	}
}

// TestFindLabelIssuesKeepsPerClassAndRefusesBadInput: a class is never emptied, and malformed input is an
// error that says what is wrong.
func TestFindLabelIssuesKeepsPerClassAndRefusesBadInput(t *testing.T) {
	// Both examples labelled 1 look like class 0: at most one of them may go (MinPerClass 1).
	labels := []int{0, 0, 1, 1}
	probs := [][]float32{{.9, .1}, {.8, .2}, {.9, .1}, {.7, .3}}
	got, err := FindLabelIssues(labels, probs, LabelIssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("flagged %v: want exactly one of the two examples of class 1", got)
	}
	for name, c := range map[string]struct {
		labels []int
		probs  [][]float32
		opts   LabelIssueOptions
	}{
		"empty":       {nil, nil, LabelIssueOptions{}},
		"rows":        {[]int{0, 1}, [][]float32{{1, 0}}, LabelIssueOptions{}},
		"one class":   {[]int{0}, [][]float32{{1}}, LabelIssueOptions{}},
		"ragged":      {[]int{0, 1}, [][]float32{{1, 0}, {1}}, LabelIssueOptions{}},
		"label":       {[]int{0, 2}, [][]float32{{1, 0}, {0, 1}}, LabelIssueOptions{}},
		"probability": {[]int{0, 1}, [][]float32{{1, 0}, {float32(math.NaN()), 1}}, LabelIssueOptions{}},
		"filter":      {[]int{0, 1}, [][]float32{{1, 0}, {0, 1}}, LabelIssueOptions{Filter: "nope"}},
		"rank":        {[]int{0, 1}, [][]float32{{1, 0}, {0, 1}}, LabelIssueOptions{Rank: "nope"}},
	} {
		if _, err := FindLabelIssues(c.labels, c.probs, c.opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

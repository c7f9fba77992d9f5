package train

import (
	"bytes"
	"strings"
	"testing"
)

func TestCollapseCriteria(t *testing.T) {
	rep := func(v, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	balanced := append(append(rep(0, 10), rep(1, 10)...), rep(2, 10)...)
	for _, tc := range []struct {
		name      string
		predicted []int
		labels    []int
		collapsed bool
		top       int
	}{
		{"all one class, balanced labels", rep(2, 30), balanced, true, 2},
		{"perfect", balanced, balanced, false, 0},
		// 28 of 30 (93%) on class 1, which is a third of the labels.
		{"93% one class", append(rep(1, 28), 0, 2), balanced, true, 1},
		// The majority class really is 90% of the labels: predicting it for all is still a collapse (the
		// other classes are never recalled)...
		{"majority for all", rep(0, 30), append(rep(0, 27), 1, 1, 1), true, 0},
		// ... while 97% predictions of it, the minority recalled once, is not (first criterion: 90% is its share).
		{"honest majority", append(rep(0, 29), 1), append(rep(0, 27), 1, 1, 1), false, 0},
		// Two classes predicted, but only class 0 is ever right: all recall on one class.
		{"one class recalled", append(rep(0, 15), rep(1, 15)...), append(rep(0, 15), rep(2, 15)...), true, 0},
		{"80/20, two recalled", append(append(rep(0, 24), rep(1, 4)...), 2, 2), balanced, false, 0},
	} {
		share, top, collapsed, err := Collapse(tc.predicted, tc.labels, 3)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if collapsed != tc.collapsed || top != tc.top {
			t.Errorf("%s: collapsed %v top %d (shares %v), want %v top %d", tc.name, collapsed, top, share, tc.collapsed, tc.top)
		}
		var sum float64
		for _, s := range share {
			sum += s
		}
		if sum < 0.999 || sum > 1.001 {
			t.Errorf("%s: shares %v sum to %v", tc.name, share, sum)
		}
	}
	if _, _, _, err := Collapse([]int{0}, []int{0, 1}, 2); err == nil {
		t.Error("mismatched lengths accepted")
	}
	if _, _, _, err := Collapse([]int{3}, []int{0}, 2); err == nil {
		t.Error("prediction out of range accepted")
	}
}

// TestCollapseReported trains a head that must collapse (every input vector is the same, so every
// prediction is the same class on balanced labels) and a healthy one, and checks the epoch records and
// the progress line.
func TestCollapseReported(t *testing.T) {
	b := testBackend(t)
	classes := classNames(3)
	same := func(data []Embedded) []Embedded {
		out := make([]Embedded, len(data))
		for i, e := range data {
			e.Vector = make([]float32, len(e.Vector))
			for j := range e.Vector {
				e.Vector[j] = 0.5
			}
			out[i] = e
		}
		return out
	}
	trainSet, valSet := blobs(1, 90, 16, 3, 1), blobs(2, 30, 16, 3, 1)
	var out bytes.Buffer
	res, err := Head(classes, same(trainSet), same(valSet)).
		With(HeadDefaults().Backend(b).Epochs(3).Seed(1).Progress(NewTerminalProgress(&out))).Fit()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range res.History {
		if st.CollapsedTo == "" || len(st.ValPredictedShare) != 3 {
			t.Errorf("epoch %d of the constant-input head: collapsed to %q, shares %v; want collapsed", st.Epoch, st.CollapsedTo, st.ValPredictedShare)
		}
	}
	if !strings.Contains(out.String(), "COLLAPSED: 100% of validation predictions are") {
		t.Errorf("progress does not report the collapse:\n%s", out.String())
	}
	healthy, err := Head(classes, trainSet, valSet).With(HeadDefaults().Backend(b).Epochs(10).Seed(1).Quiet()).Fit()
	if err != nil {
		t.Fatal(err)
	}
	last := healthy.History[len(healthy.History)-1]
	if last.CollapsedTo != "" || last.CollapseNote() != "" || len(last.ValPredictedShare) != 3 {
		t.Errorf("healthy head: collapsed to %q, shares %v (val accuracy %.3f)", last.CollapsedTo, last.ValPredictedShare, last.ValAccuracy)
	}
}

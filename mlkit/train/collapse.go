package train

import "fmt"

// The collapse guard's thresholds (see Collapse).
const (
	// CollapseShare is the share of predictions at or above which one class counts as taking them all...
	CollapseShare = 0.9
	// CollapseLabelShare is the share of the labels below which that class does not deserve them.
	CollapseLabelShare = 0.6
)

// Collapse reports whether a classifier's predictions on a split have collapsed to (about) one class, and
// the share of the predictions that went to each class. A model has collapsed when either
//   - one class takes at least CollapseShare (90%) of the predictions while it is less than
//     CollapseLabelShare (60%) of the labels, or
//   - the labels hold at least two classes but at most one class has a non-zero recall (every correct
//     prediction is of one class).
//
// predicted and labels are class indices in [0, classes), of equal length; the most-predicted class is
// returned as top (-1 for no examples).
func Collapse(predicted, labels []int, classes int) (share []float64, top int, collapsed bool, err error) {
	if len(predicted) != len(labels) {
		return nil, -1, false, fmt.Errorf("collapse check: %d predictions for %d labels", len(predicted), len(labels))
	}
	share = make([]float64, classes)
	if len(labels) == 0 {
		return share, -1, false, nil
	}
	predCount, labelCount, hits := make([]int, classes), make([]int, classes), make([]int, classes)
	for i, p := range predicted {
		l := labels[i]
		if p < 0 || p >= classes || l < 0 || l >= classes {
			return nil, -1, false, fmt.Errorf("collapse check: example %d has prediction %d and label %d, out of range [0, %d)", i, p, l, classes)
		}
		predCount[p]++
		labelCount[l]++
		if p == l {
			hits[l]++
		}
	}
	n := float64(len(labels))
	top = 0
	present, recalled := 0, 0
	for c := range classes {
		share[c] = float64(predCount[c]) / n
		if predCount[c] > predCount[top] {
			top = c
		}
		if labelCount[c] > 0 {
			present++
		}
		if hits[c] > 0 {
			recalled++
		}
	}
	collapsed = (share[top] >= CollapseShare && float64(labelCount[top])/n < CollapseLabelShare) ||
		(present >= 2 && recalled <= 1)
	return share, top, collapsed, nil
}

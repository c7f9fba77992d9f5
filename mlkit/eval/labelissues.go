package eval

import (
	"fmt"
	"math"
	"sort"
)

// Confident learning (Northcutt, Jiang and Chuang, "Confident Learning: Estimating Uncertainty in Dataset
// Labels", JAIR 2021; the method of cleanlab's filter.find_label_issues), written from the paper and
// cleanlab's description: out-of-sample probabilities give each class a threshold, the mean probability
// of that class over the examples labelled with it; an example counts as confidently of class j when its
// probability of j reaches j's threshold; counting given label against confident class gives the confident
// joint, whose off-diagonal says how many examples of each given label are really of another class. The
// examples to flag are then chosen per (given, true) cell by margin.

// IssueFilter is how FindLabelIssues chooses the flagged examples from the confident joint.
type IssueFilter string

const (
	// FilterPruneByNoiseRate flags, for every cell (given i, true j) of the calibrated confident joint,
	// the n(i,j) examples labelled i with the largest margin p(j) - p(i) (cleanlab's default).
	FilterPruneByNoiseRate IssueFilter = "prune_by_noise_rate"
	// FilterPruneByClass flags, per given class, as many examples as the joint's off-diagonal of its row,
	// those with the lowest self-confidence.
	FilterPruneByClass IssueFilter = "prune_by_class"
	// FilterBoth flags what both FilterPruneByNoiseRate and FilterPruneByClass flag.
	FilterBoth IssueFilter = "both"
	// FilterConfidentLearning flags the examples counted off the diagonal of the confident joint:
	// confidently of a class other than their label.
	FilterConfidentLearning IssueFilter = "confident_learning"
	// FilterPredictedNotGiven flags every example whose most probable class is not its label (the
	// baseline confident learning improves on).
	FilterPredictedNotGiven IssueFilter = "predicted_neq_given"
)

// IssueRank is the label-quality score FindLabelIssues orders its issues by, lowest first.
type IssueRank string

const (
	// RankSelfConfidence scores an example by the probability of its given label.
	RankSelfConfidence IssueRank = "self_confidence"
	// RankNormalizedMargin scores an example by (p(given) - max other p + 1) / 2, in [0, 1].
	RankNormalizedMargin IssueRank = "normalized_margin"
)

// Check returns an error when f is not one of the filters ("" stands for FilterPruneByNoiseRate).
func (f IssueFilter) Check() error {
	switch f {
	case "", FilterPruneByNoiseRate, FilterPruneByClass, FilterBoth, FilterConfidentLearning, FilterPredictedNotGiven:
		return nil
	}
	return fmt.Errorf("eval: label issues: unknown filter %q (want %s, %s, %s, %s or %s)", string(f), FilterPruneByNoiseRate,
		FilterPruneByClass, FilterBoth, FilterConfidentLearning, FilterPredictedNotGiven)
}

// Check returns an error when r is not one of the ranks ("" stands for RankSelfConfidence).
func (r IssueRank) Check() error {
	switch r {
	case "", RankSelfConfidence, RankNormalizedMargin:
		return nil
	}
	return fmt.Errorf("eval: label quality: unknown rank %q (want %s or %s)", string(r), RankSelfConfidence, RankNormalizedMargin)
}

// LabelIssueOptions adjusts FindLabelIssues. The zero value is cleanlab's default: prune by noise rate,
// ranked by self-confidence, at least one example kept per class.
type LabelIssueOptions struct {
	// Filter chooses the flagged examples (default FilterPruneByNoiseRate).
	Filter IssueFilter
	// Rank orders them, least likely correct first (default RankSelfConfidence).
	Rank IssueRank
	// MinPerClass is how many examples of each given label are never flagged (default 1; negative: 0).
	MinPerClass int
}

// ConfidentJoint is the confident joint of a labelled set: Counts[i][j] is the number of examples given
// label i that are confidently of class j. Thresholds[j] is the mean probability of class j over the
// examples labelled j; LabelCounts[i] counts the examples labelled i.
type ConfidentJoint struct {
	Counts      [][]int
	Thresholds  []float64
	LabelCounts []int
	// Guess[n] is the class example n is confidently of, -1 where it reaches no class's threshold.
	Guess []int
}

// checkProbs checks that labels and probs describe the same examples over k classes.
func checkProbs(labels []int, probs [][]float32) (int, error) {
	if len(labels) == 0 {
		return 0, fmt.Errorf("eval: label issues of no examples")
	}
	if len(probs) != len(labels) {
		return 0, fmt.Errorf("eval: label issues: %d probability rows for %d labels", len(probs), len(labels))
	}
	k := len(probs[0])
	if k < 2 {
		return 0, fmt.Errorf("eval: label issues need at least 2 classes, the probabilities have %d", k)
	}
	for n, row := range probs {
		if len(row) != k {
			return 0, fmt.Errorf("eval: label issues: example %d has %d probabilities, example 0 has %d", n, len(row), k)
		}
		if labels[n] < 0 || labels[n] >= k {
			return 0, fmt.Errorf("eval: label issues: example %d has label %d, outside the %d classes", n, labels[n], k)
		}
		for _, p := range row {
			if !(p >= 0 && p <= 1+1e-5) { // softmax rounding may pass 1 by an ulp
				return 0, fmt.Errorf("eval: label issues: example %d has probability %v, outside [0,1]", n, p)
			}
		}
	}
	return k, nil
}

// ComputeConfidentJoint returns the confident joint of the given labels and out-of-sample probabilities
// (one row per example, in class order), not calibrated. A class with no example gets threshold +Inf:
// nothing is confidently of it. Every class's diagonal is at least 1, as in cleanlab, so that
// calibration never divides by zero.
func ComputeConfidentJoint(labels []int, probs [][]float32) (*ConfidentJoint, error) {
	k, err := checkProbs(labels, probs)
	if err != nil {
		return nil, err
	}
	cj := &ConfidentJoint{Counts: make([][]int, k), Thresholds: make([]float64, k), LabelCounts: make([]int, k), Guess: make([]int, len(labels))}
	sum := make([]float64, k)
	for n, l := range labels {
		cj.LabelCounts[l]++
		sum[l] += float64(probs[n][l])
	}
	for j := range k {
		cj.Counts[j] = make([]int, k)
		cj.Thresholds[j] = math.Inf(1)
		if cj.LabelCounts[j] > 0 {
			cj.Thresholds[j] = sum[j] / float64(cj.LabelCounts[j])
		}
	}
	for n, row := range probs {
		first, confident := -1, 0
		for j, p := range row {
			if float64(p) >= cj.Thresholds[j]-1e-6 {
				if first < 0 {
					first = j
				}
				confident++
			}
		}
		guess := first
		if confident > 1 { // several classes reach their thresholds: the most probable one
			guess = Argmax(row)
		}
		cj.Guess[n] = guess
		if guess >= 0 {
			cj.Counts[labels[n]][guess]++
		}
	}
	for j := range k {
		cj.Counts[j][j] = max(cj.Counts[j][j], 1)
	}
	return cj, nil
}

// Calibrated returns the joint scaled so that row i sums to LabelCounts[i] (the confident counts are a
// sample of each label's examples) and the whole to the number of examples, rounded so each row keeps
// its total.
func (cj *ConfidentJoint) Calibrated() [][]int {
	k := len(cj.Counts)
	cal := make([][]float64, k)
	total, n := 0.0, 0
	for i, row := range cj.Counts {
		cal[i] = make([]float64, k)
		rs := 0
		for _, c := range row {
			rs += c
		}
		for j, c := range row {
			cal[i][j] = float64(c) / float64(rs) * float64(cj.LabelCounts[i])
			total += cal[i][j]
		}
		n += cj.LabelCounts[i]
	}
	out := make([][]int, k)
	for i := range cal {
		for j := range cal[i] {
			if total > 0 {
				cal[i][j] *= float64(n) / total
			}
		}
		out[i] = roundKeepingTotal(cal[i])
	}
	return out
}

// roundKeepingTotal rounds xs to integers whose sum is the rounded sum of xs, giving the remaining units
// to the largest fractional parts (ties to the lower index).
func roundKeepingTotal(xs []float64) []int {
	out := make([]int, len(xs))
	sum, floors := 0.0, 0
	idx := make([]int, len(xs))
	for i, x := range xs {
		sum += x
		out[i] = int(math.Floor(x))
		floors += out[i]
		idx[i] = i
	}
	rest := int(math.Round(sum)) - floors
	sort.SliceStable(idx, func(a, b int) bool {
		return xs[idx[a]]-math.Floor(xs[idx[a]]) > xs[idx[b]]-math.Floor(xs[idx[b]])
	})
	for r := 0; r < rest && r < len(idx); r++ {
		out[idx[r]]++
	}
	return out
}

// LabelQuality returns each example's label-quality score by rank (higher: more likely correct).
func LabelQuality(labels []int, probs [][]float32, rank IssueRank) ([]float64, error) {
	if _, err := checkProbs(labels, probs); err != nil {
		return nil, err
	}
	out := make([]float64, len(labels))
	for n, row := range probs {
		given := float64(row[labels[n]])
		switch rank {
		case RankSelfConfidence, "":
			out[n] = given
		case RankNormalizedMargin:
			other := 0.0
			for j, p := range row {
				if j != labels[n] {
					other = math.Max(other, float64(p))
				}
			}
			out[n] = (given - other + 1) / 2
		default:
			return nil, rank.Check()
		}
	}
	return out, nil
}

// FindLabelIssues returns the indices of the examples whose given label is likely wrong, by confident
// learning on out-of-sample probabilities (each row predicted by a model that did not train on that
// example: cross-validation), least likely correct first (ties in index order). An example whose most
// probable class is its label is never flagged.
func FindLabelIssues(labels []int, probs [][]float32, opts LabelIssueOptions) ([]int, error) {
	cj, err := ComputeConfidentJoint(labels, probs)
	if err != nil {
		return nil, err
	}
	quality, err := LabelQuality(labels, probs, opts.Rank)
	if err != nil {
		return nil, err
	}
	k := len(cj.Counts)
	minPerClass := opts.MinPerClass
	if minPerClass == 0 {
		minPerClass = 1
	}
	minPerClass = max(minPerClass, 0)
	flag := make([]bool, len(labels))
	byLabel := make([][]int, k)
	for n, l := range labels {
		byLabel[l] = append(byLabel[l], n)
	}
	// prune[i][j], i != j: how many examples labelled i to flag as of class j.
	prune := keepPerClass(cj.Calibrated(), cj.LabelCounts, minPerClass)
	noiseRate := func() []bool {
		out := make([]bool, len(labels))
		for i := range k {
			for j := range k {
				if i == j || prune[i][j] == 0 {
					continue
				}
				cand := append([]int(nil), byLabel[i]...)
				sort.SliceStable(cand, func(a, b int) bool {
					ra, rb := probs[cand[a]], probs[cand[b]]
					return ra[j]-ra[i] > rb[j]-rb[i]
				})
				for _, n := range cand[:min(prune[i][j], len(cand))] {
					out[n] = true
				}
			}
		}
		return out
	}
	byClass := func() []bool {
		out := make([]bool, len(labels))
		for i := range k {
			num := 0
			for j := range k {
				if j != i {
					num += prune[i][j]
				}
			}
			cand := append([]int(nil), byLabel[i]...)
			sort.SliceStable(cand, func(a, b int) bool { return probs[cand[a]][i] < probs[cand[b]][i] })
			for _, n := range cand[:min(num, len(cand))] {
				out[n] = true
			}
		}
		return out
	}
	switch opts.Filter {
	case FilterPruneByNoiseRate, "":
		flag = noiseRate()
	case FilterPruneByClass:
		flag = byClass()
	case FilterBoth:
		a, b := noiseRate(), byClass()
		for n := range flag {
			flag[n] = a[n] && b[n]
		}
	case FilterConfidentLearning:
		for n, g := range cj.Guess {
			flag[n] = g >= 0 && g != labels[n]
		}
	case FilterPredictedNotGiven:
		for n := range flag {
			flag[n] = true
		}
	default:
		return nil, opts.Filter.Check()
	}
	var out []int
	for n, f := range flag {
		if f && Argmax(probs[n]) != labels[n] {
			out = append(out, n)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return quality[out[a]] < quality[out[b]] })
	return out, nil
}

// keepPerClass returns the calibrated joint's off-diagonal counts, scaled down in any row that would
// flag more than its label count less minPerClass examples.
func keepPerClass(cal [][]int, labelCounts []int, minPerClass int) [][]int {
	out := make([][]int, len(cal))
	for i, row := range cal {
		out[i] = make([]int, len(row))
		off := 0
		for j, c := range row {
			if j != i {
				off += c
			}
		}
		allowed := max(labelCounts[i]-minPerClass, 0)
		for j, c := range row {
			if j == i {
				continue
			}
			out[i][j] = c
			if off > allowed {
				out[i][j] = int(math.Floor(float64(c) * float64(allowed) / float64(off)))
			}
		}
	}
	return out
}

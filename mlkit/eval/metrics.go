// Package eval turns a model's predictions on a labelled dataset into the numbers and tables a user
// reads to judge it: accuracy (top-1, top-5), macro ROC AUC (the headline score), a per-concept table at
// a prediction threshold, confusion matrices (counts and average probability), ROC and precision-recall
// curves, calibration (expected calibration error), confidence of right and wrong answers, and top losses.
//
// It is pure Go over plain slices: it knows nothing about stores, models or views.
package eval

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/visionnb/visionnb/mlkit/internal/vecmath"
)

// Predictions holds one model's outputs on a labelled set of examples.
type Predictions struct {
	// Classes names the concepts, in the order of each Probs row.
	Classes []string
	// Labels is the index into Classes of each example's given (true) label.
	Labels []int
	// Probs holds, per example, the predicted probability of every class (softmax outputs for mutually
	// exclusive concepts, independent sigmoid outputs otherwise).
	Probs [][]float32
	// IDs optionally identifies each example (e.g. the input id in the app), for drill-down.
	IDs []int64
}

// Validate checks that the predictions are well formed, saying what is wrong and where.
func (p *Predictions) Validate() error {
	k := len(p.Classes)
	if k < 2 {
		return fmt.Errorf("eval: need at least 2 classes, got %d", k)
	}
	if len(p.Labels) == 0 {
		return errors.New("eval: no examples to evaluate (empty dataset?)")
	}
	if len(p.Labels) != len(p.Probs) {
		return fmt.Errorf("eval: %d labels but %d probability rows", len(p.Labels), len(p.Probs))
	}
	if p.IDs != nil && len(p.IDs) != len(p.Labels) {
		return fmt.Errorf("eval: %d ids but %d labels", len(p.IDs), len(p.Labels))
	}
	for i, l := range p.Labels {
		if l < 0 || l >= k {
			return fmt.Errorf("eval: example %d has label index %d outside [0,%d)", i, l, k)
		}
		if len(p.Probs[i]) != k {
			return fmt.Errorf("eval: example %d has %d probabilities, want %d", i, len(p.Probs[i]), k)
		}
		for j, v := range p.Probs[i] {
			if math.IsNaN(float64(v)) || v < 0 || v > 1.0001 {
				return fmt.Errorf("eval: example %d class %q has probability %v outside [0,1]", i, p.Classes[j], v)
			}
		}
	}
	return nil
}

// Argmax returns the index of the highest probability of example i.
func (p *Predictions) Argmax(i int) int { return Argmax(p.Probs[i]) }

// Argmax returns the index of the highest value of row (the first one on ties; 0 for an empty row).
func Argmax(row []float32) int { return vecmath.Argmax(row) }

// ConceptRow is one line of the per-concept table, at the report's threshold.
type ConceptRow struct {
	Concept string
	// ROCAUC is the one-vs-rest area under the ROC curve; NaN when the concept has no positive or no
	// negative example.
	ROCAUC float64
	// AveragePrecision is the area under the precision-recall curve (step-wise, as scikit-learn).
	AveragePrecision float64
	// Labelled counts examples whose given label is this concept; Predicted those whose probability for
	// it is at or above the threshold.
	Labelled, Predicted int
	TP, FN, FP          int
	Recall, Precision   float64
	F1                  float64
}

// Report is everything Evaluate computes for one model on one dataset.
type Report struct {
	Classes   []string
	Examples  int
	Threshold float64
	// Accuracy is top-1 accuracy (argmax equals the label); Top5 is top-5 accuracy, NaN with fewer than
	// 6 classes (where it would always be 1).
	Accuracy, Top5 float64
	// MacroROCAUC is the mean per-concept ROC AUC over concepts where it is defined: the headline score.
	MacroROCAUC float64
	// MacroF1 averages the per-concept F1 at the threshold.
	MacroF1 float64
	// Concepts is the per-concept table; Total sums counts over concepts (micro-averaged rates).
	Concepts []ConceptRow
	Total    ConceptRow
	// Confusion counts examples by actual (row) and argmax-predicted (column) class.
	Confusion [][]int
	// AvgProb[i][j] is the mean predicted probability of class j over examples whose label is i.
	AvgProb [][]float64
	// ECE is the expected calibration error of the top-1 confidence over CalibrationBins equal-width bins.
	ECE             float64
	CalibrationBins []CalibrationBin
	// MeanConfidenceCorrect and MeanConfidenceWrong average the top-1 probability over right and wrong
	// answers (NaN when there are none).
	MeanConfidenceCorrect, MeanConfidenceWrong float64
	// LogLoss is the mean negative log probability of the given label.
	LogLoss float64
}

// CalibrationBin is one bin of the reliability diagram.
type CalibrationBin struct {
	Lo, Hi         float64
	Count          int
	MeanConfidence float64
	Accuracy       float64
}

// Options tunes Evaluate.
type Options struct {
	// Threshold is the probability at or above which a concept counts as predicted in the per-concept
	// table (default 0.5).
	Threshold float64
	// Bins is the number of calibration bins (default 15).
	Bins int
}

// Evaluate computes the full report. It returns an error for malformed predictions.
func Evaluate(p Predictions, opt Options) (*Report, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if opt.Threshold <= 0 || opt.Threshold > 1 {
		if opt.Threshold != 0 {
			return nil, fmt.Errorf("eval: threshold %v must be in (0,1]", opt.Threshold)
		}
		opt.Threshold = 0.5
	}
	if opt.Bins <= 0 {
		opt.Bins = 15
	}
	k, n := len(p.Classes), len(p.Labels)
	r := &Report{Classes: append([]string(nil), p.Classes...), Examples: n, Threshold: opt.Threshold}
	r.Confusion = make([][]int, k)
	r.AvgProb = make([][]float64, k)
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, k)
		r.AvgProb[i] = make([]float64, k)
	}
	labelled := make([]int, k)
	correct, top5 := 0, 0
	var confRight, confWrong float64
	nRight, nWrong := 0, 0
	logLoss := 0.0
	for i, l := range p.Labels {
		pred := p.Argmax(i)
		r.Confusion[l][pred]++
		labelled[l]++
		for j, v := range p.Probs[i] {
			r.AvgProb[l][j] += float64(v)
		}
		conf := float64(p.Probs[i][pred])
		if pred == l {
			correct++
			confRight += conf
			nRight++
		} else {
			confWrong += conf
			nWrong++
		}
		if rankOf(p.Probs[i], l) < 5 {
			top5++
		}
		logLoss -= math.Log(math.Max(float64(p.Probs[i][l]), 1e-12))
	}
	for i := range r.AvgProb {
		for j := range r.AvgProb[i] {
			if labelled[i] > 0 {
				r.AvgProb[i][j] /= float64(labelled[i])
			}
		}
	}
	r.Accuracy = float64(correct) / float64(n)
	r.Top5 = math.NaN()
	if k > 5 {
		r.Top5 = float64(top5) / float64(n)
	}
	r.MeanConfidenceCorrect, r.MeanConfidenceWrong = safeDiv(confRight, nRight), safeDiv(confWrong, nWrong)
	r.LogLoss = logLoss / float64(n)

	// Per-concept table.
	aucSum, aucN, f1Sum := 0.0, 0, 0.0
	var tot ConceptRow
	tot.Concept = "Total"
	for c := 0; c < k; c++ {
		scores, pos := p.Column(c)
		row := ConceptRow{Concept: p.Classes[c], ROCAUC: ROCAUC(scores, pos), AveragePrecision: AveragePrecision(scores, pos)}
		for i, s := range scores {
			predicted := float64(s) >= opt.Threshold
			switch {
			case pos[i] && predicted:
				row.TP++
			case pos[i]:
				row.FN++
			case predicted:
				row.FP++
			}
			if pos[i] {
				row.Labelled++
			}
			if predicted {
				row.Predicted++
			}
		}
		row.fillRates()
		if !math.IsNaN(row.ROCAUC) {
			aucSum += row.ROCAUC
			aucN++
		}
		f1Sum += row.F1
		tot.Labelled += row.Labelled
		tot.Predicted += row.Predicted
		tot.TP += row.TP
		tot.FN += row.FN
		tot.FP += row.FP
		r.Concepts = append(r.Concepts, row)
	}
	tot.fillRates()
	tot.ROCAUC = math.NaN()
	tot.AveragePrecision = math.NaN()
	if aucN > 0 {
		tot.ROCAUC = aucSum / float64(aucN)
	}
	r.Total = tot
	r.MacroROCAUC = tot.ROCAUC
	r.MacroF1 = f1Sum / float64(k)
	r.CalibrationBins, r.ECE = calibration(&p, opt.Bins)
	return r, nil
}

func (row *ConceptRow) fillRates() {
	row.Recall = safeDiv(float64(row.TP), row.TP+row.FN)
	row.Precision = safeDiv(float64(row.TP), row.TP+row.FP)
	if row.Recall+row.Precision > 0 && !math.IsNaN(row.Recall) && !math.IsNaN(row.Precision) {
		row.F1 = 2 * row.Recall * row.Precision / (row.Recall + row.Precision)
	}
}

// column returns every example's probability for class c and whether c is its label.
// Column returns class c's probability for every example, and whether each example is labelled c: the
// scores and positives of c's one-vs-rest curves (ROCCurve, PRCurve).
func (p *Predictions) Column(c int) ([]float32, []bool) {
	scores := make([]float32, len(p.Labels))
	pos := make([]bool, len(p.Labels))
	for i := range p.Labels {
		scores[i] = p.Probs[i][c]
		pos[i] = p.Labels[i] == c
	}
	return scores, pos
}

// rankOf returns how many classes have a strictly higher probability than class l.
func rankOf(probs []float32, l int) int {
	r := 0
	for _, v := range probs {
		if v > probs[l] {
			r++
		}
	}
	return r
}

func safeDiv(a float64, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / float64(b)
}

// ROCAUC is the area under the ROC curve of scores against binary labels, computed as the normalised
// Mann-Whitney U statistic with ties counted as one half. NaN when one side is empty.
func ROCAUC(scores []float32, positive []bool) float64 {
	idx := sortedIndex(scores)
	// Average ranks over ties (1-based).
	ranks := make([]float64, len(scores))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && scores[idx[j+1]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for t := i; t <= j; t++ {
			ranks[idx[t]] = avg
		}
		i = j + 1
	}
	var nPos, nNeg int
	sumPos := 0.0
	for i, p := range positive {
		if p {
			nPos++
			sumPos += ranks[i]
		} else {
			nNeg++
		}
	}
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	u := sumPos - float64(nPos)*float64(nPos+1)/2
	return u / (float64(nPos) * float64(nNeg))
}

// sortedIndex returns indices ordering scores ascending.
func sortedIndex(scores []float32) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	return idx
}

// CurvePoint is one operating point of a ROC or precision-recall curve.
type CurvePoint struct {
	Threshold float64
	// X and Y are (false positive rate, true positive rate) for ROC, (recall, precision) for PR.
	X, Y float64
}

// ROCCurve returns the ROC curve's operating points from the strictest threshold to the loosest,
// starting at (0,0) and ending at (1,1). Nil when one side is empty.
func ROCCurve(scores []float32, positive []bool) []CurvePoint {
	nPos, nNeg := countPos(positive)
	if nPos == 0 || nNeg == 0 {
		return nil
	}
	pts := []CurvePoint{{Threshold: math.Inf(1)}}
	walkThresholds(scores, positive, func(th float64, tp, fp int) {
		pts = append(pts, CurvePoint{Threshold: th, X: float64(fp) / float64(nNeg), Y: float64(tp) / float64(nPos)})
	})
	return pts
}

// PRCurve returns the precision-recall curve's operating points from the strictest threshold down.
// Nil when there is no positive example.
func PRCurve(scores []float32, positive []bool) []CurvePoint {
	nPos, _ := countPos(positive)
	if nPos == 0 {
		return nil
	}
	var pts []CurvePoint
	walkThresholds(scores, positive, func(th float64, tp, fp int) {
		pts = append(pts, CurvePoint{Threshold: th, X: float64(tp) / float64(nPos), Y: float64(tp) / float64(tp+fp)})
	})
	return pts
}

// AveragePrecision is the step-wise area under the precision-recall curve: the sum over thresholds of
// (recall increase) x precision. NaN when there is no positive example.
func AveragePrecision(scores []float32, positive []bool) float64 {
	pts := PRCurve(scores, positive)
	if pts == nil {
		return math.NaN()
	}
	ap, prevRecall := 0.0, 0.0
	for _, p := range pts {
		ap += (p.X - prevRecall) * p.Y
		prevRecall = p.X
	}
	return ap
}

// walkThresholds visits each distinct score from high to low with the cumulative true and false
// positives of predicting "positive" at or above it.
func walkThresholds(scores []float32, positive []bool, visit func(th float64, tp, fp int)) {
	idx := sortedIndex(scores)
	tp, fp := 0, 0
	for i := len(idx) - 1; i >= 0; i-- {
		if positive[idx[i]] {
			tp++
		} else {
			fp++
		}
		if i == 0 || scores[idx[i-1]] != scores[idx[i]] {
			visit(float64(scores[idx[i]]), tp, fp)
		}
	}
}

func countPos(positive []bool) (pos, neg int) {
	for _, p := range positive {
		if p {
			pos++
		} else {
			neg++
		}
	}
	return
}

// calibration bins the top-1 confidence and returns the bins and the expected calibration error.
func calibration(p *Predictions, bins int) ([]CalibrationBin, float64) {
	out := make([]CalibrationBin, bins)
	for b := range out {
		out[b].Lo, out[b].Hi = float64(b)/float64(bins), float64(b+1)/float64(bins)
	}
	for i, l := range p.Labels {
		pred := p.Argmax(i)
		conf := float64(p.Probs[i][pred])
		b := int(conf * float64(bins))
		if b >= bins {
			b = bins - 1
		}
		out[b].Count++
		out[b].MeanConfidence += conf
		if pred == l {
			out[b].Accuracy++
		}
	}
	ece := 0.0
	n := float64(len(p.Labels))
	for b := range out {
		if out[b].Count > 0 {
			c := float64(out[b].Count)
			out[b].MeanConfidence /= c
			out[b].Accuracy /= c
			ece += c / n * math.Abs(out[b].Accuracy-out[b].MeanConfidence)
		}
	}
	return out, ece
}

// Loss is one example's loss, for "top losses" reviews.
type Loss struct {
	// Index is the example's position in the predictions; ID its id when the predictions carry ids.
	Index int
	ID    int64
	// Label and Predicted are class indices; Loss is -log p(label).
	Label, Predicted int
	Loss             float64
	ProbLabel        float64
	ProbPredicted    float64
}

// TopLosses returns the n examples with the highest loss (the most confidently wrong first).
func TopLosses(p Predictions, n int) []Loss {
	out := make([]Loss, len(p.Labels))
	for i, l := range p.Labels {
		pred := p.Argmax(i)
		out[i] = Loss{Index: i, Label: l, Predicted: pred, ProbLabel: float64(p.Probs[i][l]),
			ProbPredicted: float64(p.Probs[i][pred]), Loss: -math.Log(math.Max(float64(p.Probs[i][l]), 1e-12))}
		if p.IDs != nil {
			out[i].ID = p.IDs[i]
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Loss > out[b].Loss })
	if n >= 0 && n < len(out) {
		out = out[:n]
	}
	return out
}

// Cell returns the examples whose label is `actual` and whose argmax prediction is `predicted`: the
// images behind one confusion-matrix cell.
func Cell(p Predictions, actual, predicted int) []int {
	var out []int
	for i, l := range p.Labels {
		if l == actual && p.Argmax(i) == predicted {
			out = append(out, i)
		}
	}
	return out
}

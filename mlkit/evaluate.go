package mlkit

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// Evaluation is a model's persisted evaluation on one split of a dataset version: the report the user
// reads, and the predictions behind it (for drill-down into confusion-matrix cells and top losses).
type Evaluation struct {
	app     *App
	ID      int64
	Model   string
	Dataset string
	Version int
	Split   Split
	Created time.Time
	// Report holds every metric (see eval.Report), at Report.Threshold.
	Report *eval.Report
	// Predictions are the model's probabilities for each input of the split.
	Predictions eval.Predictions
	// TestOverride is non-empty when this is a test-split evaluation outside the one-time rule (see
	// App.Test): the reason given. Such results are flagged wherever they are shown.
	TestOverride string
	// Leaked is, on a test-split evaluation, how many test images had near duplicates in train or
	// validation when it ran; LeakAck is the reason given to evaluate anyway (AcknowledgeLeakage). Such
	// results are flagged too.
	Leaked  int
	LeakAck string
	// RunBy is, for a test-split evaluation, the OS user who ran it, as recorded then ("" when it was
	// made before mlkit recorded users, and for other splits).
	RunBy string
	// Reused is true when the evaluation was read back from the app rather than computed now.
	Reused bool
}

// EvalOption adjusts App.Evaluate, App.EvaluateOn and App.Test.
type EvalOption func(*evalOptions)

type evalOptions struct {
	threshold float64
	override  string
	leakAck   string
	recompute bool
	version   int
}

// newEvalOptions applies opts over the defaults (threshold 0.5, the latest version).
func newEvalOptions(opts []EvalOption) evalOptions {
	o := evalOptions{threshold: 0.5}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// AtVersion evaluates on version n of the dataset instead of its latest version.
func AtVersion(n int) EvalOption { return func(o *evalOptions) { o.version = n } }

// Threshold sets the probability at or above which a concept counts as predicted in the per-concept
// table (default 0.5). Changing it recomputes every threshold metric from the stored predictions.
func Threshold(t float64) EvalOption { return func(o *evalOptions) { o.threshold = t } }

// OverrideTestRule allows a test-split evaluation the one-time rule would refuse (see App.Test: a model
// that was not selected, a second look at test inputs already evaluated); the reason is recorded with
// the evaluation and the result is flagged in every report.
func OverrideTestRule(reason string) EvalOption { return func(o *evalOptions) { o.override = reason } }

// AcknowledgeLeakage lets a test-split evaluation go on although some test images have near duplicates in
// train or validation (App.Test refuses with a *LeakageError otherwise): the reason and the number of
// leaked images are recorded with the evaluation, and the result is flagged in every report. The better
// way out is to remove the copies (app.Leakage(...).Show() shows them) or to split again.
func AcknowledgeLeakage(reason string) EvalOption { return func(o *evalOptions) { o.leakAck = reason } }

// Recompute evaluates again even when a stored evaluation of the same model and data exists (not
// allowed on the test split without OverrideTestRule), and runs the model on every image even where its
// training recorded the final predictions (train.RecordedFile).
func Recompute() EvalOption { return func(o *evalOptions) { o.recompute = true } }

// Evaluate evaluates a saved model on one split (SplitTrain, SplitValidation or SplitTest) of the latest
// version of a dataset, stores the result in the app, and returns it. An evaluation already stored for the
// same model, dataset version and split is returned as is (Recompute forces a new one). On the test split
// the result is the final, one-time measure of the chosen model, under the rule App.Test describes
// (App.Test is the call for that step): only the model selected on the version, only on test inputs no
// recorded run has seen (the same model on the same inputs gets its recorded result back); anything else
// is refused with a *TestRuleError unless OverrideTestRule(reason) is given, and is then flagged.
func (a *App) Evaluate(model, dataset string, split Split, opts ...EvalOption) (*Evaluation, error) {
	ctx := context.Background()
	o := newEvalOptions(opts)
	m, v, members, err := a.evaluationInputs(ctx, a, model, dataset, split, o)
	if err != nil {
		return nil, err
	}
	if split == SplitTest {
		return a.evaluateTest(ctx, m, dataset, v, members, o)
	}
	prev, err := a.st.Evaluations(ctx, m.ID, dataset, v.Number, split)
	if err != nil {
		return nil, err
	}
	if len(prev) > 0 && !o.recompute {
		e, err := a.loadEvaluation(prev[len(prev)-1], m.Name)
		if err != nil {
			return nil, err
		}
		return e.WithThreshold(o.threshold)
	}
	return a.evaluateAndSave(ctx, a, m, members, dataset, v.Number, split, o)
}

// EvaluateOn evaluates one of this app's models on a split of another app's dataset (photos from another
// source, say), and stores the result in this app under the dataset name "<other app folder>:<dataset>".
// The one-time test rule guards this app's own test splits only.
func (a *App) EvaluateOn(other *App, model, dataset string, split Split, opts ...EvalOption) (*Evaluation, error) {
	ctx := context.Background()
	o := newEvalOptions(opts)
	m, v, members, err := a.evaluationInputs(ctx, other, model, dataset, split, o)
	if err != nil {
		return nil, err
	}
	return a.evaluateAndSave(ctx, other, m, members, other.Dir()+":"+dataset, v.Number, split, o)
}

// evaluationInputs checks what an evaluation asks for and fetches it: the split's name, one of a's models
// trained to the end, and the dataset version of data (a itself, or another app) with its members.
func (a *App) evaluationInputs(ctx context.Context, data *App, model, dataset string, split Split, o evalOptions) (store.Model, store.Version, []store.Member, error) {
	var v store.Version
	if err := checkSplit("evaluate", split); err != nil {
		return store.Model{}, v, nil, err
	}
	m, err := a.st.Model(ctx, model)
	if err != nil {
		return m, v, nil, fmt.Errorf("mlkit: evaluate: %w", err)
	}
	if m.Status != ModelStatusDone {
		return m, v, nil, fmt.Errorf("mlkit: evaluate: model %q is %s, not trained to the end: train it again", model, m.Status)
	}
	v, members, err := data.versionMembersAt(dataset, o.version)
	return m, v, members, err
}

// evaluateAndSave runs one of a's models on one split of data's dataset version (data is a itself, or
// another app), and stores the evaluation in a under the dataset name given.
func (a *App) evaluateAndSave(ctx context.Context, data *App, m store.Model, members []store.Member, dataset string, version int, split Split, o evalOptions) (*Evaluation, error) {
	e, repJSON, predJSON, err := a.computeEvaluation(data, m, members, dataset, version, split, o)
	if err != nil {
		return nil, err
	}
	err = a.st.Tx(ctx, func(tx *store.Tx) error {
		e.ID, err = tx.AddEvaluation(ctx, store.Evaluation{ModelID: m.ID, Dataset: dataset, Version: version,
			Split: split, Report: repJSON, Predictions: predJSON})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mlkit: saving the evaluation of %q on %s v%d %s: %w", m.Name, dataset, version, split, err)
	}
	return e, nil
}

// computeEvaluation runs one of a's models on one split of data's dataset version and returns the
// evaluation (not stored yet) with its report and predictions encoded for storage.
func (a *App) computeEvaluation(data *App, m store.Model, members []store.Member, dataset string, version int, split Split, o evalOptions) (*Evaluation, []byte, []byte, error) {
	preds, err := a.predictMembers(data, m, members, split, !o.recompute)
	if err != nil {
		return nil, nil, nil, err
	}
	rep, err := eval.Evaluate(preds, eval.Options{Threshold: o.threshold})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mlkit: evaluating %q on %s v%d %s: %w", m.Name, dataset, version, split, err)
	}
	repJSON, predJSON, err := encodeEvaluation(rep, preds)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mlkit: evaluating %q on %s v%d %s: %w", m.Name, dataset, version, split, err)
	}
	e := &Evaluation{app: data, Model: m.Name, Dataset: dataset, Version: version, Split: split, Created: time.Now(),
		Report: rep, Predictions: preds}
	return e, repJSON, predJSON, nil
}

// encodeEvaluation encodes a report (eval.Report.JSON: NaN as null) and its predictions for storage.
func encodeEvaluation(rep *eval.Report, preds eval.Predictions) (repJSON, predJSON []byte, err error) {
	if repJSON, err = json.Marshal(rep.JSON()); err != nil {
		return nil, nil, fmt.Errorf("encoding the report: %w", err)
	}
	if predJSON, err = json.Marshal(preds); err != nil {
		return nil, nil, fmt.Errorf("encoding the predictions: %w", err)
	}
	return repJSON, predJSON, nil
}

func (a *App) loadEvaluation(se store.Evaluation, model string) (*Evaluation, error) {
	e := &Evaluation{app: a, ID: se.ID, Model: model, Dataset: se.Dataset, Version: se.Version, Split: se.Split,
		Created: se.Created, TestOverride: se.TestOverride, Leaked: se.Leaked, LeakAck: se.LeakAck, Reused: true}
	if err := json.Unmarshal(se.Predictions, &e.Predictions); err != nil {
		return nil, fmt.Errorf("mlkit: reading evaluation %d: %w", se.ID, err)
	}
	return e, nil
}

// WithThreshold returns the evaluation with every threshold metric recomputed at t (no model run).
func (e *Evaluation) WithThreshold(t float64) (*Evaluation, error) {
	rep, err := eval.Evaluate(e.Predictions, eval.Options{Threshold: t})
	if err != nil {
		return nil, err
	}
	c := *e
	c.Report = rep
	return &c, nil
}

// Flag is the warning shown with a flagged test result ("" when not flagged).
func (e *Evaluation) Flag() string {
	var flags []string
	if e.TestOverride != "" {
		flags = append(flags, fmt.Sprintf("test evaluation outside the one-time rule (%s)", e.TestOverride))
	}
	if e.Leaked > 0 {
		flags = append(flags, fmt.Sprintf("%s with near duplicates in train or validation, acknowledged (%s)",
			view.Count(e.Leaked, "test image"), e.LeakAck))
	}
	if len(flags) == 0 {
		return ""
	}
	return "⚠ flagged: " + strings.Join(flags, "; ")
}

// Title is a one-line description of what was evaluated.
func (e *Evaluation) Title() string {
	t := fmt.Sprintf("%s on %s v%d %s (%s)", e.Model, e.Dataset, e.Version, e.Split, view.Count(e.Report.Examples, "image"))
	if f := e.Flag(); f != "" {
		t += " — " + f
	}
	return t
}

// String summarises the headline metrics in one line.
func (e *Evaluation) String() string {
	return fmt.Sprintf("%s: accuracy %.3f, macro ROC AUC %.3f, macro F1 %.3f, ECE %.3f", e.Title(), e.Report.Accuracy,
		e.Report.MacroROCAUC, e.Report.MacroF1, e.Report.ECE)
}

// ConceptTable is the per-concept table at the report's threshold, with a total row.
func (e *Evaluation) ConceptTable() *view.TableView {
	r := e.Report
	t := view.Table("concept", "ROC AUC", "labelled", "predicted", "TP", "FN", "FP", "recall", "precision", "F1").
		Title(fmt.Sprintf("%s — per concept at threshold %.2f", e.Title(), r.Threshold)).FloatFormat("%.3f")
	for _, c := range append(append([]eval.ConceptRow(nil), r.Concepts...), r.Total) {
		t.Row(c.Concept, c.ROCAUC, c.Labelled, c.Predicted, c.TP, c.FN, c.FP, c.Recall, c.Precision, c.F1)
	}
	return t.HighlightRow(len(r.Concepts))
}

// ConfusionMatrix is the counts matrix (rows actual, columns predicted).
func (e *Evaluation) ConfusionMatrix() *view.HeatmapChart {
	return view.ConfusionMatrix(e.Report.Classes, e.Report.Confusion).Title(e.Model+" — "+string(e.Split)+" counts").Size(460, 400)
}

// ProbabilityMatrix is the average predicted probability of each column class over each row's images.
func (e *Evaluation) ProbabilityMatrix() *view.HeatmapChart {
	return view.Heatmap(e.Report.AvgProb).RowLabels(e.Report.Classes...).ColLabels(e.Report.Classes...).
		XLabel("Predicted").YLabel("Actual").Format("%.2f").ColorRange(0, 1).
		Title(e.Model+" — "+string(e.Split)+" mean probability").Size(460, 400)
}

// Show displays the headline metrics, the per-concept table and both confusion matrices, counts with
// the images behind each cell (see ConfusionCells) beside the mean probabilities (and, for a test
// evaluation, who ran it and when, as recorded).
func (e *Evaluation) Show() error {
	fmt.Println(e.String())
	if e.Split == SplitTest && e.RunBy != "" {
		how := "tested"
		if e.Reused {
			how = "the recorded test result: tested"
		}
		fmt.Printf("%s by %s at %s\n", how, e.RunBy, e.Created.Local().Format("2006-01-02 15:04 MST"))
	}
	if _, err := view.Show(e.ConceptTable()); err != nil {
		return err
	}
	cells, err := e.ConfusionCells()
	if err != nil {
		return err
	}
	_, err = view.Show(cells)
	return err
}

// ConfusionCells is the counts matrix beside the mean-probability matrix, with the images behind every
// non-empty cell embedded under them: in a trusted notebook a click on a cell opens its images; in any
// viewer each cell has a line that opens them (see view.ConfusionCells). A cell embeds at most
// view.DefaultCellItems thumbnails, the mistakes most confident first and the correct predictions least
// confident first; its note names the ShowCell call that shows them all.
func (e *Evaluation) ConfusionCells() (*view.CellsView, error) {
	const w, h = 420, 380 // two fit a 900-px output area side by side
	v := view.ConfusionCells(e.ConfusionMatrix().Size(w, h)).Beside(e.ProbabilityMatrix().Size(w, h))
	classes := e.Predictions.Classes
	for a := range classes {
		for p := range classes {
			idx := eval.Cell(e.Predictions, a, p)
			if len(idx) == 0 {
				continue
			}
			// The predicted class's probability: the surest mistakes first, the least sure hits first.
			sort.SliceStable(idx, func(i, j int) bool {
				pi, pj := e.Predictions.Probs[idx[i]][p], e.Predictions.Probs[idx[j]][p]
				if a == p {
					return pi < pj
				}
				return pi > pj
			})
			items, err := e.items(idx[:min(len(idx), view.DefaultCellItems)])
			if err != nil {
				return nil, err
			}
			v.Cell(a, p, items...).Count(a, p, len(idx)) // the rest are counted, not embedded
		}
	}
	return v.More(func(row, col, hidden int) string {
		return fmt.Sprintf("and %d more: ShowCell(%q, %q) shows them all", hidden, classes[row], classes[col])
	}), nil
}

// ShowCurves displays the ROC and precision-recall curves of every concept.
func (e *Evaluation) ShowCurves() error {
	split := string(e.Split)
	roc := view.ROC().Title(e.Model+" — ROC, "+split).Size(460, 380)
	pr := view.PR().Title(e.Model+" — precision-recall, "+split).Size(460, 380)
	for c, name := range e.Predictions.Classes {
		scores, pos := e.Predictions.Column(c)
		var x, y, rx, ry []float64
		for _, p := range eval.ROCCurve(scores, pos) {
			x, y = append(x, p.X), append(y, p.Y)
		}
		for _, p := range eval.PRCurve(scores, pos) {
			rx, ry = append(rx, p.X), append(ry, p.Y)
		}
		if len(x) > 0 {
			roc.Series(fmt.Sprintf("%s (%.3f)", name, e.Report.Concepts[c].ROCAUC), x, y)
		}
		if len(rx) > 0 {
			pr.Series(fmt.Sprintf("%s (AP %.3f)", name, e.Report.Concepts[c].AveragePrecision), rx, ry)
		}
	}
	_, err := view.Show(view.Row(roc, pr))
	return err
}

// probCaption lists an example's three most probable concepts with their probabilities.
func probCaption(classes []string, probs []float32) string {
	var parts []string
	for _, x := range eval.TopK(classes, probs, 3) {
		parts = append(parts, fmt.Sprintf("%s %.2f", x.Class, x.Prob))
	}
	return strings.Join(parts, " · ")
}

func (e *Evaluation) gallery(idx []int, title string) (*view.GalleryView, error) {
	items, err := e.items(idx)
	if err != nil {
		return nil, err
	}
	return view.Gallery().Title(title).Columns(6).PageSize(36).ThumbSize(128).Add(items...), nil
}

// items are the gallery items of the predictions idx: thumbnail, file, actual→predicted and the three
// most probable concepts, bordered green when right and red when wrong.
func (e *Evaluation) items(idx []int) ([]view.Item, error) {
	var out []view.Item
	for _, i := range idx {
		in, err := e.app.st.Input(context.Background(), e.Predictions.IDs[i])
		if err != nil {
			return nil, fmt.Errorf("mlkit: evaluation of %q: input %d: %w", e.Model, e.Predictions.IDs[i], err)
		}
		pred := e.Predictions.Argmax(i)
		color := view.ColorCorrect
		if pred != e.Predictions.Labels[i] {
			color = view.ColorWrong
		}
		out = append(out, view.Item{ID: fmt.Sprint(in.ID), Image: e.app.st.ThumbPath(in.SHA256),
			Caption: fmt.Sprintf("#%d %s", in.ID, in.FileName),
			Label:   fmt.Sprintf("%s→%s: %s", e.Predictions.Classes[e.Predictions.Labels[i]], e.Predictions.Classes[pred], probCaption(e.Predictions.Classes, e.Predictions.Probs[i])),
			Color:   color})
	}
	return out, nil
}

// ShowCell displays the images behind one confusion-matrix cell (actual row, predicted column) with
// their probabilities: the place to find mislabels and fix them with app.Relabel.
func (e *Evaluation) ShowCell(actual, predicted string) error {
	ai, pi := indexOf(e.Predictions.Classes, actual), indexOf(e.Predictions.Classes, predicted)
	if ai < 0 || pi < 0 {
		return fmt.Errorf("mlkit: unknown concept in cell (%q, %q); concepts: %s", actual, predicted, strings.Join(e.Predictions.Classes, ", "))
	}
	idx := eval.Cell(e.Predictions, ai, pi)
	g, err := e.gallery(idx, fmt.Sprintf("%s: actual %s, predicted %s — %s", e.Title(), actual, predicted, view.Count(len(idx), "image")))
	if err != nil {
		return err
	}
	_, err = g.Show()
	return err
}

// ShowMostConfused displays the images behind the n busiest off-diagonal cells of the confusion matrix
// (see eval.Report.MostConfused), one gallery each; with no mistake at all it says so.
func (e *Evaluation) ShowMostConfused(n int) error {
	cells := e.Report.MostConfused(n)
	if len(cells) == 0 {
		fmt.Printf("%s: no confusion, every image is predicted as its label\n", e.Title())
		return nil
	}
	for _, c := range cells {
		if err := e.ShowCell(e.Report.Classes[c.Actual], e.Report.Classes[c.Predicted]); err != nil {
			return err
		}
	}
	return nil
}

// ShowTopLosses displays the n images the model got most confidently wrong (or least right), each with a
// line under the gallery that opens the image larger beside the probabilities of every concept (a click
// on its thumbnail opens it too, in a trusted notebook).
func (e *Evaluation) ShowTopLosses(n int) error {
	g, err := e.TopLosses(n)
	if err != nil {
		return err
	}
	_, err = g.Show()
	return err
}

// TopLosses is the gallery ShowTopLosses displays.
func (e *Evaluation) TopLosses(n int) (*view.GalleryView, error) {
	losses := eval.TopLosses(e.Predictions, n)
	var idx []int
	for _, l := range losses {
		idx = append(idx, l.Index)
	}
	items, err := e.items(idx)
	if err != nil {
		return nil, err
	}
	g := view.Gallery().Title(fmt.Sprintf("%s: top %s", e.Title(), view.Count(len(idx), "loss"))).Columns(6).PageSize(36).ThumbSize(128).Add(items...)
	classes := e.Predictions.Classes
	for i, l := range losses {
		probs := make([]float64, len(classes))
		for c, p := range e.Predictions.Probs[l.Index] {
			probs[c] = float64(p)
		}
		big := items[i]
		big.Badge, big.Label = "", ""
		body := view.Row(view.Gallery().ThumbSize(224).HidePaging().Add(big),
			view.Bars().Title("probabilities").Categories(classes...).Group("probability", probs...).YRange(0, 1).Size(420, 260))
		g.Detail(i, fmt.Sprintf("#%d: %s — actual %s %.2f, predicted %s %.2f, loss %.2f", i+1, items[i].Caption,
			classes[l.Label], l.ProbLabel, classes[l.Predicted], l.ProbPredicted, l.Loss), body)
	}
	return g, nil
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

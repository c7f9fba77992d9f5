package mlkit

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/train"
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
	Split   string
	Created time.Time
	// Report holds every metric (see eval.Report), at Report.Threshold.
	Report *eval.Report
	// Predictions are the model's probabilities for each input of the split.
	Predictions eval.Predictions
	// TestOverride is non-empty when this is a test-split evaluation outside the one-time rule (see
	// App.Test): the reason given. Such results are flagged wherever they are shown.
	TestOverride string
	// RunBy is, for a test-split evaluation, the OS user who ran it, as recorded then ("" when it was
	// made before mlkit recorded users, and for other splits).
	RunBy string
	// Reused is true when the evaluation was read back from the app rather than computed now.
	Reused bool
}

// EvalOption adjusts App.Evaluate.
type EvalOption func(*evalOptions)

type evalOptions struct {
	threshold float64
	override  string
	recompute bool
	version   int
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

// Recompute evaluates again even when a stored evaluation of the same model and data exists (not
// allowed on the test split without OverrideTestRule).
func Recompute() EvalOption { return func(o *evalOptions) { o.recompute = true } }

// Evaluate evaluates a saved model on one split ("train", "validation" or "test") of the latest version of
// a dataset, stores the result in the app, and returns it. An evaluation already stored for the same model,
// dataset version and split is returned as is (Recompute forces a new one). On the test split the result is
// the final, one-time measure of the chosen model, under the rule App.Test describes (App.Test is the call
// for that step): only the model selected on the version, only on test inputs no recorded run has seen
// (the same model on the same inputs gets its recorded result back); anything else is refused with a
// *TestRuleError unless OverrideTestRule(reason) is given, and is then flagged.
func (a *App) Evaluate(model, dataset, split string, opts ...EvalOption) (*Evaluation, error) {
	ctx := context.Background()
	o := evalOptions{threshold: 0.5}
	for _, f := range opts {
		f(&o)
	}
	if indexOf([]string{string(store.Train), string(store.Validation), string(store.Test)}, split) < 0 {
		return nil, fmt.Errorf("mlkit: evaluate: split %q: use train, validation or test", split)
	}
	m, err := a.st.Model(ctx, model)
	if err != nil {
		return nil, fmt.Errorf("mlkit: evaluate: %w", err)
	}
	if m.Status != "done" {
		return nil, fmt.Errorf("mlkit: evaluate: model %q is %s, not trained to the end: train it again", model, m.Status)
	}
	v, members, err := a.versionMembersAt(dataset, o.version)
	if err != nil {
		return nil, err
	}
	if split == string(store.Test) {
		return a.evaluateTest(ctx, m, dataset, v, members, o)
	}
	prev, err := a.st.Evaluations(ctx, m.ID, dataset, v.Number, store.Split(split))
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
	e, repJSON, predJSON, err := a.computeEvaluation(m, members, dataset, v.Number, store.Split(split), o)
	if err != nil {
		return nil, err
	}
	err = a.st.Tx(ctx, func(tx *store.Tx) error {
		e.ID, err = tx.AddEvaluation(ctx, store.Evaluation{ModelID: m.ID, Dataset: dataset, Version: v.Number,
			Split: store.Split(split), Report: repJSON, Predictions: predJSON})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mlkit: saving the evaluation of %q on %s v%d %s: %w", model, dataset, v.Number, split, err)
	}
	return e, nil
}

// computeEvaluation runs a model on one split of this app's dataset version and returns the evaluation
// (not stored yet) with its report and predictions encoded for storage.
func (a *App) computeEvaluation(m store.Model, members []store.Member, dataset string, version int, split store.Split, o evalOptions) (*Evaluation, []byte, []byte, error) {
	preds, err := a.predict(a, m, members, split)
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
	e := &Evaluation{app: a, Model: m.Name, Dataset: dataset, Version: version, Split: string(split), Created: time.Now(),
		Report: rep, Predictions: preds}
	return e, repJSON, predJSON, nil
}

// encodeEvaluation encodes a report and its predictions for storage.
func encodeEvaluation(rep *eval.Report, preds eval.Predictions) (repJSON, predJSON []byte, err error) {
	if repJSON, err = json.Marshal(jsonReport(rep)); err != nil {
		return nil, nil, fmt.Errorf("encoding the report: %w", err)
	}
	if predJSON, err = json.Marshal(preds); err != nil {
		return nil, nil, fmt.Errorf("encoding the predictions: %w", err)
	}
	return repJSON, predJSON, nil
}

// warnLeakage prints a warning before a test evaluation when near-duplicates of test images sit in train
// or validation (using the default embedder's cached vectors; nothing is computed when they are missing).
// When the check cannot run, it says so and why: the evaluation goes on without it.
func (a *App) warnLeakage(dataset string, version int, members []store.Member) {
	cached, err := a.st.Embeddings(context.Background(), DefaultEmbedder, nil)
	if err != nil {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: reading the cached %s embeddings: %v (check with app.Leakage(%q, ...))\n",
			dataset, version, DefaultEmbedder, err, dataset)
		return
	}
	var splits []eval.SplitVectors
	missing, first := 0, int64(0)
	for _, s := range store.Splits {
		sv := eval.SplitVectors{Split: string(s)}
		for _, m := range members {
			if m.Split != s {
				continue
			}
			v, ok := cached[m.InputID]
			if !ok {
				if missing == 0 {
					first = m.InputID
				}
				missing++
				continue
			}
			sv.IDs, sv.Vectors = append(sv.IDs, m.InputID), append(sv.Vectors, v)
		}
		splits = append(splits, sv)
	}
	if missing > 0 {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: %d of its %d inputs (input %d first) have no cached %s embedding, so the check would be partial; run app.Leakage(%q, mlkit.DefaultEmbedder, 0) to embed them and check\n",
			dataset, version, missing, len(members), first, DefaultEmbedder, dataset)
		return
	}
	pairs, err := eval.Leakage(splits, eval.DefaultLeakageThreshold)
	if err != nil {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: %v\n", dataset, version, err)
		return
	}
	n := 0
	for _, p := range pairs {
		if p.SplitA == string(store.Test) || p.SplitB == string(store.Test) {
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(Messages, "⚠ leakage: %d test images have near-duplicates in train or validation (see app.Leakage(%q, ...)); the test score may be optimistic\n", n, dataset)
	} else {
		fmt.Fprintln(Messages, "leakage check: no test image has a near-duplicate in train or validation")
	}
}

// EvaluateOn evaluates one of this app's models on a split of another app's dataset (photos from another
// source, say), and stores the result in this app under the dataset name "<other app folder>:<dataset>".
// The one-time test rule guards this app's own test splits only.
func (a *App) EvaluateOn(other *App, model, dataset, split string, opts ...EvalOption) (*Evaluation, error) {
	ctx := context.Background()
	o := evalOptions{threshold: 0.5}
	for _, f := range opts {
		f(&o)
	}
	m, err := a.st.Model(ctx, model)
	if err != nil {
		return nil, fmt.Errorf("mlkit: evaluate: %w", err)
	}
	if m.Status != "done" {
		return nil, fmt.Errorf("mlkit: evaluate: model %q is %s, not trained to the end", model, m.Status)
	}
	v, members, err := other.versionMembersAt(dataset, o.version)
	if err != nil {
		return nil, err
	}
	name := other.Dir() + ":" + dataset
	preds, err := a.predict(other, m, members, store.Split(split))
	if err != nil {
		return nil, err
	}
	rep, err := eval.Evaluate(preds, eval.Options{Threshold: o.threshold})
	if err != nil {
		return nil, fmt.Errorf("mlkit: evaluating %q on %s v%d %s: %w", model, name, v.Number, split, err)
	}
	repJSON, predJSON, err := encodeEvaluation(rep, preds)
	if err != nil {
		return nil, fmt.Errorf("mlkit: evaluating %q on %s v%d %s: %w", model, name, v.Number, split, err)
	}
	e := &Evaluation{app: other, Model: m.Name, Dataset: name, Version: v.Number, Split: split, Created: time.Now(), Report: rep, Predictions: preds}
	err = a.st.Tx(ctx, func(tx *store.Tx) error {
		e.ID, err = tx.AddEvaluation(ctx, store.Evaluation{ModelID: m.ID, Dataset: name, Version: v.Number,
			Split: store.Split(split), Report: repJSON, Predictions: predJSON})
		return err
	})
	return e, err
}

// predict runs one of a's models on the labelled members of one split of data's dataset (data is a itself,
// or another app whose photos the model is evaluated on).
func (a *App) predict(data *App, m store.Model, members []store.Member, split store.Split) (eval.Predictions, error) {
	label := map[string]int{}
	for i, c := range m.Classes {
		label[c] = i
	}
	p := eval.Predictions{Classes: m.Classes}
	var paths []string
	var ids []int64
	for _, mem := range members {
		if mem.Split != split || mem.Concept == "" {
			continue
		}
		l, ok := label[mem.Concept]
		if !ok {
			return p, fmt.Errorf("mlkit: evaluate %q: input %d is labelled %q, a class the model was not trained on (%s)", m.Name, mem.InputID, mem.Concept, strings.Join(m.Classes, ", "))
		}
		p.Labels = append(p.Labels, l)
		p.IDs = append(p.IDs, mem.InputID)
		ids = append(ids, mem.InputID)
		paths = append(paths, data.st.BlobPath(mem.SHA256))
	}
	if len(ids) == 0 {
		return p, fmt.Errorf("mlkit: evaluate %q: the %s split has no labelled inputs", m.Name, split)
	}
	pred, err := train.Load(filepath.Join(a.Dir(), m.Dir))
	if err != nil {
		return p, fmt.Errorf("mlkit: loading model %q: %w", m.Name, err)
	}
	switch m.Kind {
	case KindHead:
		emb, err := data.Embed(m.Embedder)
		if err != nil {
			return p, err
		}
		vecs := make([][]float32, len(ids))
		for i, id := range ids {
			if vecs[i] = emb.Vector(id); vecs[i] == nil {
				return p, fmt.Errorf("mlkit: evaluate %q: input %d has no %s embedding", m.Name, id, m.Embedder)
			}
		}
		p.Probs, err = pred.PredictVectors(vecs)
		if err != nil {
			return p, fmt.Errorf("mlkit: predicting with %q: %w", m.Name, err)
		}
	default:
		pred.SetCacheDir(filepath.Join(data.Dir(), "cache", "pixels"))
		p.Probs, err = pred.Predict(paths)
		if err != nil {
			return p, fmt.Errorf("mlkit: predicting with %q: %w", m.Name, err)
		}
	}
	return p, nil
}

func (a *App) loadEvaluation(se store.Evaluation, model string) (*Evaluation, error) {
	e := &Evaluation{app: a, ID: se.ID, Model: model, Dataset: se.Dataset, Version: se.Version, Split: string(se.Split),
		Created: se.Created, TestOverride: se.TestOverride, Reused: true}
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

// jsonReport replaces NaN (not representable in JSON) with nil-able values for storage.
func jsonReport(r *eval.Report) map[string]any {
	f := func(x float64) any {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	}
	return map[string]any{"classes": r.Classes, "examples": r.Examples, "threshold": r.Threshold, "accuracy": f(r.Accuracy),
		"top5": f(r.Top5), "macro_roc_auc": f(r.MacroROCAUC), "macro_f1": f(r.MacroF1), "log_loss": f(r.LogLoss), "ece": f(r.ECE),
		"confusion": r.Confusion}
}

// Flag is the warning shown with a flagged test result ("" when not flagged).
func (e *Evaluation) Flag() string {
	if e.TestOverride == "" {
		return ""
	}
	return fmt.Sprintf("⚠ flagged: test evaluation outside the one-time rule (%s)", e.TestOverride)
}

// Title is a one-line description of what was evaluated.
func (e *Evaluation) Title() string {
	t := fmt.Sprintf("%s on %s v%d %s (%d images)", e.Model, e.Dataset, e.Version, e.Split, e.Report.Examples)
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
	return view.ConfusionMatrix(e.Report.Classes, e.Report.Confusion).Title(e.Model+" — "+e.Split+" counts").Size(460, 400)
}

// ProbabilityMatrix is the average predicted probability of each column class over each row's images.
func (e *Evaluation) ProbabilityMatrix() *view.HeatmapChart {
	return view.Heatmap(e.Report.AvgProb).RowLabels(e.Report.Classes...).ColLabels(e.Report.Classes...).
		XLabel("Predicted").YLabel("Actual").Format("%.2f").ColorRange(0, 1).
		Title(e.Model+" — "+e.Split+" mean probability").Size(460, 400)
}

// Show displays the headline metrics, the per-concept table and both confusion matrices (and, for a test
// evaluation, who ran it and when, as recorded).
func (e *Evaluation) Show() error {
	fmt.Println(e.String())
	if e.Split == string(store.Test) && e.RunBy != "" {
		how := "tested"
		if e.Reused {
			how = "the recorded test result: tested"
		}
		fmt.Printf("%s by %s at %s\n", how, e.RunBy, e.Created.Local().Format("2006-01-02 15:04 MST"))
	}
	if _, err := view.Show(e.ConceptTable()); err != nil {
		return err
	}
	_, err := view.Show(view.Row(e.ConfusionMatrix(), e.ProbabilityMatrix()))
	return err
}

// ShowCurves displays the ROC and precision-recall curves of every concept.
func (e *Evaluation) ShowCurves() error {
	roc := view.ROC().Title(e.Model+" — ROC, "+e.Split).Size(460, 380)
	pr := view.PR().Title(e.Model+" — precision-recall, "+e.Split).Size(460, 380)
	for c, name := range e.Predictions.Classes {
		scores, pos := column(e.Predictions, c)
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

func column(p eval.Predictions, c int) ([]float32, []bool) {
	s := make([]float32, len(p.Labels))
	pos := make([]bool, len(p.Labels))
	for i := range p.Labels {
		s[i], pos[i] = p.Probs[i][c], p.Labels[i] == c
	}
	return s, pos
}

// probCaption lists an example's per-concept probabilities, highest first.
func probCaption(classes []string, probs []float32) string {
	type cp struct {
		c string
		p float32
	}
	var xs []cp
	for i, c := range classes {
		xs = append(xs, cp{c, probs[i]})
	}
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			if xs[j].p > xs[i].p {
				xs[i], xs[j] = xs[j], xs[i]
			}
		}
	}
	var parts []string
	for _, x := range xs[:min(3, len(xs))] {
		parts = append(parts, fmt.Sprintf("%s %.2f", x.c, x.p))
	}
	return strings.Join(parts, " · ")
}

func (e *Evaluation) gallery(idx []int, title string) (*view.GalleryView, error) {
	g := view.Gallery().Title(title).Columns(6).PageSize(36).ThumbSize(128)
	for _, i := range idx {
		in, err := e.app.st.Input(context.Background(), e.Predictions.IDs[i])
		if err != nil {
			return nil, err
		}
		pred := e.Predictions.Argmax(i)
		color := view.ColorCorrect
		if pred != e.Predictions.Labels[i] {
			color = view.ColorWrong
		}
		g.Add(view.Item{ID: fmt.Sprint(in.ID), Image: e.app.st.ThumbPath(in.SHA256),
			Caption: fmt.Sprintf("#%d %s", in.ID, in.FileName),
			Label:   fmt.Sprintf("%s→%s: %s", e.Predictions.Classes[e.Predictions.Labels[i]], e.Predictions.Classes[pred], probCaption(e.Predictions.Classes, e.Predictions.Probs[i])),
			Color:   color})
	}
	return g, nil
}

// ShowCell displays the images behind one confusion-matrix cell (actual row, predicted column) with
// their probabilities: the place to find mislabels and fix them with app.Relabel.
func (e *Evaluation) ShowCell(actual, predicted string) error {
	ai, pi := indexOf(e.Predictions.Classes, actual), indexOf(e.Predictions.Classes, predicted)
	if ai < 0 || pi < 0 {
		return fmt.Errorf("mlkit: unknown concept in cell (%q, %q); concepts: %s", actual, predicted, strings.Join(e.Predictions.Classes, ", "))
	}
	idx := eval.Cell(e.Predictions, ai, pi)
	g, err := e.gallery(idx, fmt.Sprintf("%s: actual %s, predicted %s — %d images", e.Title(), actual, predicted, len(idx)))
	if err != nil {
		return err
	}
	_, err = g.Show()
	return err
}

// ShowTopLosses displays the n images the model got most confidently wrong (or least right).
func (e *Evaluation) ShowTopLosses(n int) error {
	var idx []int
	for _, l := range eval.TopLosses(e.Predictions, n) {
		idx = append(idx, l.Index)
	}
	g, err := e.gallery(idx, fmt.Sprintf("%s: top %d losses", e.Title(), len(idx)))
	if err != nil {
		return err
	}
	_, err = g.Show()
	return err
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// Comparison is several models evaluated on the same split, side by side.
type Comparison struct {
	Dataset, Split string
	Evaluations    []*Evaluation
}

// Compare evaluates (or reuses the stored evaluations of) every model on one split of a dataset.
func (a *App) Compare(dataset, split string, models ...string) (*Comparison, error) {
	if len(models) == 0 {
		ms, err := a.Models()
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.Status == "done" && m.Dataset == dataset {
				models = append(models, m.Name)
			}
		}
	}
	c := &Comparison{Dataset: dataset, Split: split}
	for _, m := range models {
		e, err := a.Evaluate(m, dataset, split)
		if err != nil {
			return nil, err
		}
		c.Evaluations = append(c.Evaluations, e)
	}
	return c, nil
}

// Table is the side-by-side table of headline metrics.
func (c *Comparison) Table() *view.TableView {
	t := view.Table("model", "accuracy", "macro ROC AUC", "macro F1", "log loss", "ECE", "images").
		Title(fmt.Sprintf("Models on %s %s", c.Dataset, c.Split)).FloatFormat("%.3f")
	for _, e := range c.Evaluations {
		r := e.Report
		t.Row(e.Model, r.Accuracy, r.MacroROCAUC, r.MacroF1, r.LogLoss, r.ECE, r.Examples)
	}
	return t
}

// Show displays the table, the confusion matrices next to each other, and a bar chart of the metrics.
func (c *Comparison) Show() error {
	if _, err := view.Show(c.Table()); err != nil {
		return err
	}
	var mats []view.Renderable
	var names []string
	var acc, auc, f1 []float64
	for _, e := range c.Evaluations {
		mats = append(mats, e.ConfusionMatrix().Size(400, 360))
		names = append(names, e.Model)
		acc, auc, f1 = append(acc, e.Report.Accuracy), append(auc, e.Report.MacroROCAUC), append(f1, e.Report.MacroF1)
	}
	if _, err := view.Show(view.Row(mats...).Title("Confusion matrices, " + c.Split)); err != nil {
		return err
	}
	bars := view.Bars().Title("Headline metrics, "+c.Split).Categories(names...).
		Group("accuracy", acc...).Group("macro ROC AUC", auc...).Group("macro F1", f1...).YRange(0, 1).Size(640, 360)
	_, err := view.Show(bars)
	return err
}

// Choice is a recorded model selection.
type Choice struct {
	*eval.Choice
	Dataset, Split string
	Version        int
}

// Select picks the best of the compared models on a split (validation, normally) by a named metric
// (mlkit uses eval's names: "macro_roc_auc", "accuracy", "macro_f1", "log_loss", "ece"), records the
// choice in the app, and returns it. The selected model is the one the test split may then evaluate.
func (a *App) Select(dataset, split, metric string, models ...string) (*Choice, error) {
	if split == string(store.Test) {
		return nil, fmt.Errorf("mlkit: select on validation, not on test: choosing by test results would make the test score optimistic")
	}
	cmp, err := a.Compare(dataset, split, models...)
	if err != nil {
		return nil, err
	}
	var cands []eval.Candidate
	for _, e := range cmp.Evaluations {
		cands = append(cands, eval.Candidate{Model: e.Model, Report: e.Report})
	}
	ch, err := eval.Select(cands, metric)
	if err != nil {
		return nil, fmt.Errorf("mlkit: select: %w", err)
	}
	ctx := context.Background()
	winner, err := a.st.Model(ctx, ch.Winner)
	if err != nil {
		return nil, err
	}
	var ranking []map[string]any
	for _, c := range ch.Ranking {
		v, _, _ := c.Report.Metric(metric)
		ranking = append(ranking, map[string]any{"model": c.Model, metric: nanToNil(v)})
	}
	rj, err := json.Marshal(ranking)
	if err != nil {
		return nil, fmt.Errorf("mlkit: select on %s %s: encoding the ranking: %w", dataset, split, err)
	}
	version := cmp.Evaluations[0].Version
	err = a.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.AddSelection(ctx, store.Selection{Dataset: dataset, Version: version, Split: store.Split(split),
			Metric: metric, ModelID: winner.ID, Value: ch.Value, Ranking: rj})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Choice{Choice: ch, Dataset: dataset, Split: split, Version: version}, nil
}

func nanToNil(x float64) any {
	if math.IsNaN(x) {
		return nil
	}
	return x
}

// Show displays the ranking and the choice.
func (c *Choice) Show() error {
	t := view.Table("rank", "model", c.Metric, "accuracy").Title(fmt.Sprintf("Selected on %s v%d %s by %s: %s", c.Dataset, c.Version, c.Split, c.Metric, c.Winner)).FloatFormat("%.3f")
	for i, r := range c.Ranking {
		v, _, _ := r.Report.Metric(c.Metric)
		t.Row(i+1, r.Model, v, r.Report.Accuracy)
	}
	_, err := view.Show(t.HighlightRow(0))
	return err
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

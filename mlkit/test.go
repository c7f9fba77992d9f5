package mlkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// The one-time test rule.
//
// A test split measures the model chosen on validation, once, so that the reported score is not
// flattered by choices made after looking at it. mlkit records every evaluation on a test split in an
// append-only ledger (store.TestRun): which model (its record, not just its name), which test inputs
// with which labels, on which dataset version, by which OS user and when. The rule follows the test
// inputs, not the (dataset, version) pair: re-splitting into a new version keeps the test members (splits
// are sticky), and the new version inherits every look at them.
//
// An evaluation on a test split is one of:
//
//   - the same look again: the same trained model on exactly the same labelled test inputs as a recorded
//     run. Nothing new is seen, so the recorded evaluation is returned (Reused, naming the version it was
//     made on). This is what re-running a notebook does, even across an identical re-split.
//   - a first look: the model App.Select chose on this dataset version, on test inputs no recorded run has
//     seen. It is evaluated and recorded; this is the final result.
//   - anything else is refused with a *TestRuleError (errors.Is(err, ErrTestRule)): no selection on the
//     version, a model other than the selected one, or test inputs that an earlier run has already seen
//     (another model's look, a second look by the same model with Recompute, or the same model on a test
//     split that has changed: inputs added, removed or relabelled). OverrideTestRule(reason) evaluates
//     anyway; the reason is recorded and the result is flagged in every report.
//
// Evaluations on another app's data (App.EvaluateOn) are not this app's test split and are not recorded.

// ErrTestRule is what every refusal by the one-time test rule matches (errors.Is); the error itself is a
// *TestRuleError with the details.
var ErrTestRule = errors.New("the test split is for one final evaluation of the selected model")

// ErrNoSelection is returned (wrapped) by App.Test when no model has been selected on the dataset version:
// there is no model to test yet.
var ErrNoSelection = errors.New("no model has been selected")

// TestLook is one recorded evaluation on a test split: a look at its inputs.
type TestLook struct {
	// EvaluationID is the stored evaluation (it may have been deleted with its model; the look stays).
	EvaluationID int64
	Model        string
	Dataset      string
	Version      int
	// RunBy is the OS user who ran it ("" when it was made before mlkit recorded users).
	RunBy   string
	Created time.Time
	// Override is the reason given when the one-time rule was overridden ("" for a rule-abiding run).
	Override string
	// Inputs is how many test inputs it evaluated; Shared how many of them are in the test split asked
	// about.
	Inputs, Shared int
}

// By is who ran the look, for display.
func (l TestLook) By() string {
	if l.RunBy == "" {
		return "an unrecorded user"
	}
	return l.RunBy
}

// Flag is the warning shown with an overridden look ("" when it kept the rule).
func (l TestLook) Flag() string {
	if l.Override == "" {
		return ""
	}
	return fmt.Sprintf("⚠ flagged: test evaluation outside the one-time rule (%s)", l.Override)
}

// String names the look: model, data, how many of the inputs in question, who and when.
func (l TestLook) String() string {
	s := fmt.Sprintf("%q on %s v%d (%d of its %d test inputs) by %s at %s", l.Model, l.Dataset, l.Version, l.Shared, l.Inputs,
		l.By(), l.Created.UTC().Format("2006-01-02 15:04 UTC"))
	if l.Override != "" {
		s += fmt.Sprintf(" (overridden: %s)", l.Override)
	}
	return s
}

// TestRuleError is a test-split evaluation refused by the one-time rule; it matches ErrTestRule. Error
// words the way out for Go callers (mlkit.OverrideTestRule); other front ends (the CLI) build their own
// message from Reason and the fields.
type TestRuleError struct {
	// Model is the model asked for, on the test split of Dataset version Version (Inputs labelled inputs).
	Model   string
	Dataset string
	Version int
	Inputs  int
	// NoSelection: no model has been selected on this version.
	NoSelection bool
	// Selected is the model selected on this version (by Metric) when it is not Model.
	Selected, Metric string
	// Again: Recompute asked to evaluate the same model on the same test inputs a second time.
	Again bool
	// Earlier lists the recorded looks at some of these test inputs, oldest first.
	Earlier []TestLook
}

// Is makes errors.Is(err, ErrTestRule) hold.
func (e *TestRuleError) Is(target error) bool { return target == ErrTestRule }

// Reason says what the rule refused and why, without saying how to override it.
func (e *TestRuleError) Reason() string {
	var parts []string
	if e.NoSelection {
		parts = append(parts, fmt.Sprintf("no model has been selected on %s v%d yet (compare the models on validation and select one first)", e.Dataset, e.Version))
	}
	if e.Selected != "" {
		parts = append(parts, fmt.Sprintf("%q was selected on %s v%d (by %s), not %q", e.Selected, e.Dataset, e.Version, e.Metric, e.Model))
	}
	if e.Again {
		parts = append(parts, fmt.Sprintf("%q was already evaluated on these test inputs and its result is final", e.Model))
	}
	if len(e.Earlier) > 0 {
		var looks []string
		for _, l := range e.Earlier {
			looks = append(looks, l.String())
		}
		parts = append(parts, fmt.Sprintf("the test split of %s v%d (%d inputs) was already evaluated: %s", e.Dataset, e.Version, e.Inputs, strings.Join(looks, "; ")))
	}
	return strings.Join(parts, "; ")
}

// Error is the message for Go callers: the reason, and mlkit.OverrideTestRule as the way to look anyway.
func (e *TestRuleError) Error() string {
	s := fmt.Sprintf("mlkit: evaluating %q on the test split: %v: %s", e.Model, ErrTestRule, e.Reason())
	if e.NoSelection {
		s += fmt.Sprintf("; select with app.Select(%q, \"validation\", metric, models...) and run app.Test(%q)", e.Dataset, e.Dataset)
	}
	return s + "; or pass mlkit.OverrideTestRule(reason) to evaluate anyway (the reason is recorded and the result flagged)"
}

// currentUser is the OS user running this process: os/user, else $USER, else "unknown".
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// labelledTest returns the labelled test members of a version: input id -> label.
func labelledTest(members []store.Member) map[int64]string {
	want := map[int64]string{}
	for _, m := range members {
		if m.Split == store.Test && m.Concept != "" {
			want[m.InputID] = m.Concept
		}
	}
	return want
}

// sameInputs reports whether two sets of labelled inputs are identical, labels included.
func sameInputs(a, b map[int64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for id, c := range a {
		if d, ok := b[id]; !ok || d != c {
			return false
		}
	}
	return true
}

// sameModel reports whether a recorded run was made by this very model record (a model replaced under
// the same name, even under a reused id, has another creation time).
func sameModel(r store.TestRun, m store.Model) bool {
	return r.ModelID == m.ID && r.ModelCreated.Equal(m.Created)
}

func lookOf(r store.TestRun, want map[int64]string) TestLook {
	shared := 0
	for id := range r.Inputs {
		if _, ok := want[id]; ok {
			shared++
		}
	}
	return TestLook{EvaluationID: r.EvaluationID, Model: r.ModelName, Dataset: r.Dataset, Version: r.Version, RunBy: r.RunBy,
		Created: r.Created, Override: r.Override, Inputs: len(r.Inputs), Shared: shared}
}

// testPlan is what the rule decided for a test-split evaluation.
type testPlan struct {
	reuse    *store.TestRun // the same look, recorded: return its evaluation
	override string         // the reason to record with a new look outside the rule
	seen     int64          // the newest run id the decision considered
}

// decideTest applies the one-time rule to evaluating m on the labelled test inputs want of dataset
// version v, given every recorded run and the version's selection (found false when there is none).
func decideTest(runs []store.TestRun, m store.Model, sel store.Selection, found bool, selectedName, dataset string, v int,
	want map[int64]string, o evalOptions) (testPlan, error) {
	var plan testPlan
	var earlier []TestLook
	for i := range runs {
		r := runs[i]
		plan.seen = max(plan.seen, r.ID)
		l := lookOf(r, want)
		if l.Shared == 0 {
			continue
		}
		earlier = append(earlier, l)
		if sameModel(r, m) && sameInputs(r.Inputs, want) {
			plan.reuse = &runs[i] // the latest such run wins
		}
	}
	if plan.reuse != nil && !o.recompute {
		return plan, nil
	}
	rule := &TestRuleError{Model: m.Name, Dataset: dataset, Version: v, Inputs: len(want), Earlier: earlier,
		NoSelection: !found, Again: plan.reuse != nil}
	if found && sel.ModelID != m.ID {
		rule.Selected, rule.Metric = selectedName, sel.Metric
	}
	plan.reuse = nil
	if !rule.NoSelection && rule.Selected == "" && !rule.Again && len(rule.Earlier) == 0 {
		return plan, nil // a first look by the selected model
	}
	if o.override == "" {
		return plan, rule
	}
	plan.override = o.override
	return plan, nil
}

// evaluateTest is App.Evaluate on the test split: the one-time rule, then the evaluation and its record.
func (a *App) evaluateTest(ctx context.Context, m store.Model, dataset string, v store.Version, members []store.Member, o evalOptions) (*Evaluation, error) {
	want := labelledTest(members)
	if len(want) == 0 {
		return nil, fmt.Errorf("mlkit: evaluate %q: the test split of %s v%d has no labelled inputs", m.Name, dataset, v.Number)
	}
	sel, err := a.st.LatestSelection(ctx, dataset, v.Number)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("mlkit: evaluate %q on %s v%d test: %w", m.Name, dataset, v.Number, err)
	}
	selectedName := ""
	if found {
		if selectedName, err = a.modelName(ctx, sel.ModelID); err != nil {
			return nil, err
		}
	}
	runs, err := a.st.TestRuns(ctx)
	if err != nil {
		return nil, fmt.Errorf("mlkit: evaluate %q on %s v%d test: %w", m.Name, dataset, v.Number, err)
	}
	plan, err := decideTest(runs, m, sel, found, selectedName, dataset, v.Number, want, o)
	if err != nil {
		return nil, err
	}
	if plan.reuse != nil {
		se, err := a.st.Evaluation(ctx, plan.reuse.EvaluationID)
		if err != nil {
			return nil, fmt.Errorf("mlkit: evaluate %q on %s v%d test: the recorded evaluation: %w", m.Name, dataset, v.Number, err)
		}
		e, err := a.loadEvaluation(se, m.Name)
		if err != nil {
			return nil, err
		}
		e.RunBy = plan.reuse.RunBy
		return e.WithThreshold(o.threshold)
	}
	leaked := 0
	if leaks := a.testLeaks(dataset, v.Number, members); len(leaks) > 0 {
		leaked = testImagesIn(leaks)
		if o.leakAck == "" {
			return nil, &LeakageError{Dataset: dataset, Version: v.Number, Pairs: leaks, TestImages: leaked}
		}
		fmt.Fprintf(Messages, "⚠ leakage acknowledged (%s): %s with near duplicates in train or validation; the result is flagged\n", o.leakAck, view.Count(leaked, "test image"))
	}
	e, repJSON, predJSON, err := a.computeEvaluation(a, m, members, dataset, v.Number, SplitTest, o)
	if err != nil {
		return nil, err
	}
	e.TestOverride, e.RunBy = plan.override, currentUser()
	if leaked > 0 {
		e.Leaked, e.LeakAck = leaked, o.leakAck
	}
	inputs := map[int64]string{}
	for i, id := range e.Predictions.IDs {
		inputs[id] = e.Predictions.Classes[e.Predictions.Labels[i]]
	}
	err = a.st.Tx(ctx, func(tx *store.Tx) error {
		// Another process may have tested meanwhile: decide again under the write lock.
		now, err := tx.TestRuns(ctx)
		if err != nil {
			return err
		}
		if len(now) > 0 && now[len(now)-1].ID > plan.seen {
			again, err := decideTest(now, m, sel, found, selectedName, dataset, v.Number, want, o)
			if err != nil {
				return err
			}
			if again.reuse != nil {
				return fmt.Errorf("the same test evaluation was recorded meanwhile by %s (evaluation %d): run again to read it", again.reuse.RunBy, again.reuse.EvaluationID)
			}
		}
		e.ID, err = tx.AddEvaluation(ctx, store.Evaluation{ModelID: m.ID, Dataset: dataset, Version: v.Number,
			Split: store.Test, Report: repJSON, Predictions: predJSON, TestOverride: e.TestOverride, Leaked: e.Leaked, LeakAck: e.LeakAck})
		if err != nil {
			return err
		}
		_, err = tx.AddTestRun(ctx, store.TestRun{EvaluationID: e.ID, ModelID: m.ID, ModelName: m.Name, ModelCreated: m.Created,
			Dataset: dataset, Version: v.Number, RunBy: e.RunBy, Override: e.TestOverride, Inputs: inputs})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mlkit: recording the test evaluation of %q on %s v%d: %w", m.Name, dataset, v.Number, err)
	}
	return e, nil
}

// modelName is the name of a model record, or a description of it when it no longer exists.
func (a *App) modelName(ctx context.Context, id int64) (string, error) {
	m, err := a.st.ModelByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Sprintf("#%d (deleted)", id), nil
	}
	if err != nil {
		return "", fmt.Errorf("mlkit: %w", err)
	}
	return m.Name, nil
}

// Test is the final step of the workflow: it evaluates the model chosen by the latest App.Select on the
// dataset's latest version (AtVersion picks another) on its test split, under the one-time rule (see
// ErrTestRule): the first call evaluates and records the result; calling it again (re-running the cell
// or the whole notebook, even after an identical re-split) returns that recorded result. Testing after
// the test inputs have been seen by another run (a new selection, a changed split, Recompute) is refused
// unless OverrideTestRule(reason) is passed, which records the reason and flags the result.
// It fails with ErrNoSelection when no model has been selected on the version: run App.Select first.
func (a *App) Test(dataset string, opts ...EvalOption) (*Evaluation, error) {
	ctx := context.Background()
	o := evalOptions{}
	for _, f := range opts {
		f(&o)
	}
	v, err := a.st.Version(ctx, dataset, o.version)
	if err != nil {
		return nil, fmt.Errorf("mlkit: test: dataset %q: %w (create it with app.Split)", dataset, err)
	}
	sel, err := a.st.LatestSelection(ctx, dataset, v.Number)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("mlkit: test %s v%d: %w on it yet: compare the models on validation and pick one with app.Select(%q, \"validation\", metric, models...) first",
			dataset, v.Number, ErrNoSelection, dataset)
	}
	if err != nil {
		return nil, fmt.Errorf("mlkit: test %s v%d: %w", dataset, v.Number, err)
	}
	m, err := a.st.ModelByID(ctx, sel.ModelID)
	if err != nil {
		return nil, fmt.Errorf("mlkit: test %s v%d: the selected model: %w (select again with app.Select)", dataset, v.Number, err)
	}
	return a.Evaluate(m.Name, dataset, SplitTest, append(append([]EvalOption(nil), opts...), AtVersion(v.Number))...)
}

// TestRun is one look in a TestRecord, with its evaluation.
type TestRun struct {
	TestLook
	// Evaluation is the stored result at threshold 0.5 (nil when it was deleted with its model).
	Evaluation *Evaluation
}

// TestRecord says how the test split of a dataset version has been used: which model was selected and
// every recorded evaluation that looked at its test inputs (from any version), flagged ones included.
type TestRecord struct {
	Dataset  string
	Version  int
	Selected string
	Metric   string
	// Inputs is the number of labelled test inputs of the version.
	Inputs int
	Runs   []*TestRun
}

// TestHistory returns the test record of a dataset's latest version: its selection, and every recorded
// test evaluation that looked at any of its test inputs, oldest first, with who ran it and when.
func (a *App) TestHistory(dataset string) (*TestRecord, error) {
	ctx := context.Background()
	v, members, err := a.versionMembersAt(dataset, 0)
	if err != nil {
		return nil, err
	}
	want := labelledTest(members)
	rec := &TestRecord{Dataset: dataset, Version: v.Number, Inputs: len(want)}
	sel, err := a.st.LatestSelection(ctx, dataset, v.Number)
	switch {
	case err == nil:
		if rec.Selected, err = a.modelName(ctx, sel.ModelID); err != nil {
			return nil, err
		}
		rec.Metric = sel.Metric
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("mlkit: test history of %s v%d: %w", dataset, v.Number, err)
	}
	runs, err := a.st.TestRuns(ctx)
	if err != nil {
		return nil, fmt.Errorf("mlkit: test history of %s v%d: %w", dataset, v.Number, err)
	}
	for _, r := range runs {
		l := lookOf(r, want)
		if l.Shared == 0 {
			continue
		}
		run := &TestRun{TestLook: l}
		if m, err := a.st.ModelByID(ctx, r.ModelID); err == nil && m.Name == r.ModelName+fmt.Sprintf(store.DeletedSuffix, m.ID) {
			run.Model = m.Name // the model was deleted since; its record says so
		}
		se, err := a.st.Evaluation(ctx, r.EvaluationID)
		switch {
		case err == nil:
			e, err := a.loadEvaluation(se, r.ModelName)
			if err != nil {
				return nil, err
			}
			e.RunBy = r.RunBy
			if run.Evaluation, err = e.WithThreshold(0.5); err != nil {
				return nil, fmt.Errorf("mlkit: test history: evaluation %d: %w", se.ID, err)
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("mlkit: test history of %s v%d: %w", dataset, v.Number, err)
		}
		rec.Runs = append(rec.Runs, run)
	}
	return rec, nil
}

// Table is the record as a table: when, by whom, which model on which version, its headline metrics and
// whether it kept the rule.
func (r *TestRecord) Table() *view.TableView {
	t := view.Table("when", "by", "model", "data", "accuracy", "macro ROC AUC", "status").
		Title(fmt.Sprintf("Test split of %s v%d (%d inputs) — selected model: %s (by %s)", r.Dataset, r.Version, r.Inputs,
			orDash(r.Selected), orDash(r.Metric))).FloatFormat("%.3f")
	for _, run := range r.Runs {
		status := "final (one-time, selected model)"
		if run.Override != "" {
			status = run.Flag()
		}
		var acc, auc any = "—", "—"
		if run.Evaluation != nil {
			acc, auc = run.Evaluation.Report.Accuracy, run.Evaluation.Report.MacroROCAUC
		} else {
			status += " (evaluation deleted)"
		}
		t.Row(run.Created.Local().Format("2006-01-02 15:04"), run.By(), run.Model,
			fmt.Sprintf("v%d, %d of %d inputs", run.Version, run.Shared, run.Inputs), acc, auc, status)
	}
	return t
}

// Show displays who evaluated what on the test split, and when.
func (r *TestRecord) Show() error {
	_, err := view.Show(r.Table())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

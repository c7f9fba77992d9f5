package mlkit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// Check prints the error and exits 1; it does nothing on nil. Must returns the value or stops likewise.
func TestCheckAndMustStopOnError(t *testing.T) {
	var out bytes.Buffer
	code := -1
	oldExit, oldOut := checkExit, checkOutput
	checkExit, checkOutput = func(c int) { code = c }, &out
	defer func() { checkExit, checkOutput = oldExit, oldOut }()
	Check(nil)
	if code != -1 || out.Len() != 0 {
		t.Fatalf("Check(nil) exited %d, wrote %q", code, out.String())
	}
	if v := Must(42, nil); v != 42 || code != -1 {
		t.Fatalf("Must(42, nil) = %d (exit %d)", v, code)
	}
	Must("", errors.New("no such app"))
	if code != 1 || out.String() != "error: no such app\n" {
		t.Fatalf("Must with an error: exit %d, wrote %q; want exit 1 and the error on stderr", code, out.String())
	}
}

// Every check and view step returns a result that keeps its data and shows itself.
func TestResultsKeepTheirDataAndShowThemselves(t *testing.T) {
	quietMessages(t)
	app := ruleApp(t)
	v, err := app.Version("ds", 0)
	if err != nil {
		t.Fatal(err)
	}
	leaks, err := app.Leakage(DefaultEmbedder, "ds")
	if err != nil {
		t.Fatal(err)
	}
	if leaks.Dataset != "ds" || leaks.Version != v.Number || leaks.Threshold != 0.97 {
		t.Fatalf("leakage report: %+v", leaks)
	}
	if err := leaks.Show(); err != nil {
		t.Fatal(err)
	}
	// Every vector of a class is near its axis: at 0.5 pairs across splits show up.
	loose, err := app.Leakage(DefaultEmbedder, "ds", SimilarAbove(0.5))
	if err != nil || len(loose.Pairs) == 0 {
		t.Fatalf("Leakage(SimilarAbove(0.5)) = %v, %v; want pairs", loose, err)
	}
	if err := loose.Show(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Leakage(DefaultEmbedder, "ds", SimilarAbove(0)); err == nil {
		t.Fatal("a similarity threshold of 0 must be refused")
	}
	issues, err := app.LabelErrors(DefaultEmbedder, "ds", Folds(3))
	if err != nil {
		t.Fatal(err)
	}
	if issues.Dataset != "ds" || issues.Version != v.Number {
		t.Fatalf("label issues: %+v", issues)
	}
	if err := issues.Show(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []LabelErrorOption{Folds(1), MinConfidence(1.5), FindIssuesBy("nope"), RankIssuesBy("nope")} {
		if _, err := app.LabelErrors(DefaultEmbedder, "ds", bad); err == nil {
			t.Fatal("LabelErrors must refuse Folds(1), MinConfidence(1.5) and unknown methods and ranks")
		}
	}
	s, err := app.SplitSample("ds", SplitTest, 6)
	if err != nil {
		t.Fatal(err)
	}
	if s.Total != v.Total(SplitTest) || len(s.Inputs) != 6 || s.Split != SplitTest {
		t.Fatalf("sample: total %d (want %d), %d inputs (want 2 per class)", s.Total, v.Total(SplitTest), len(s.Inputs))
	}
	if err := s.Show(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.SplitSample("ds", "holdout", 6); err == nil {
		t.Fatal("an unknown split must be an error")
	}
	rep, err := app.Upload().Files(app.st.BlobPath(s.Inputs[0].SHA256)).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Duplicates) != 1 || rep.Summary() == "" {
		t.Fatalf("re-uploading a stored photo: %+v", rep.Report)
	}
	if err := rep.Show(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.SuggestFromLabels(DefaultEmbedder, Scale(0)); err == nil || !strings.Contains(err.Error(), "Scale(0)") {
		t.Fatalf("Scale(0) must be refused, got %v", err)
	}
}

// Evaluate and EvaluateOn are one computation: the same model on the same split gives the same report,
// EvaluateOn storing it under the other app's name; both refuse an unknown split.
func TestEvaluateOnIsEvaluateOnAnotherApp(t *testing.T) {
	app := ruleApp(t)
	e, err := app.Evaluate("a", "ds", SplitValidation)
	if err != nil {
		t.Fatal(err)
	}
	on, err := app.EvaluateOn(app, "a", "ds", SplitValidation)
	if err != nil {
		t.Fatal(err)
	}
	if on.Dataset != app.Dir()+":ds" || on.Report.Examples != e.Report.Examples || on.Report.Accuracy != e.Report.Accuracy || on.Report.LogLoss != e.Report.LogLoss {
		t.Fatalf("EvaluateOn = %s, Evaluate = %s", on, e)
	}
	if _, err := app.EvaluateOn(app, "a", "ds", "holdout"); err == nil || !strings.Contains(err.Error(), "holdout") {
		t.Fatalf("EvaluateOn with an unknown split: %v", err)
	}
	if _, err := app.Evaluate("a", "ds", "holdout"); err == nil {
		t.Fatal("Evaluate with an unknown split must fail")
	}
	cmp, err := app.Compare("ds", SplitValidation, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := app.Select("ds", SplitValidation, MetricAccuracy, "a", "b")
	if err != nil || ch.Metric != MetricAccuracy || len(cmp.Evaluations) != 2 {
		t.Fatalf("Select = %+v, %v", ch, err)
	}
}

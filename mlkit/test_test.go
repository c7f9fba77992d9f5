package mlkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// ruleApp is a small app for the test-rule tests: 3 classes of noise images with synthetic, well
// separated DefaultEmbedder vectors already cached (so nothing downloads or embeds), dataset "ds" split
// 50/25/25, and two linear heads, "a" and "b", trained for a few epochs.
func ruleApp(t *testing.T) *App {
	t.Helper()
	view.SetOutputDir(t.TempDir())
	photos := t.TempDir()
	classes := []string{"cat", "cow", "dog"}
	for i := 0; i < 36; i++ {
		p := filepath.Join(photos, classes[i%3], fmt.Sprintf("%d.png", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, noisePNG(t, int64(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app, err := Create(filepath.Join(t.TempDir(), "rules"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	if _, err := app.Upload().Folder(photos).LabelsFromFolders().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	putEmbeddings(t, app)
	if _, err := app.Split("ds", Fractions(0.5, 0.25, 0.25).WithSeed(1)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := app.Train(name).Head(DefaultEmbedder).OnDataset("ds").Epochs(3).Quiet().Run(); err != nil {
			t.Fatal(err)
		}
	}
	return app
}

// putEmbeddings caches an 8-d DefaultEmbedder vector for every input without one (classEmbeddings).
func putEmbeddings(t *testing.T, app *App) {
	t.Helper()
	if err := classEmbeddings(app); err != nil {
		t.Fatal(err)
	}
}

// classEmbeddings caches an 8-d DefaultEmbedder vector for every input without one: its class's axis
// (the class read from the upload folder: cat, cow or dog) times 3 plus unit noise, so classes separate
// while no two photos come near the near-duplicate rule's cosine (same-class pairs score about 0.5).
func classEmbeddings(app *App) error { return putClassVectors(app, 1, false) }

// putClassVectors caches for every input (every one when all, else those without one) the 8-d
// DefaultEmbedder vector of classEmbeddings with noise of that standard deviation: at 0.3 the classes are
// cleanly separable (and same-class photos are near duplicates by cosine, so use it only where the split
// does not matter).
func putClassVectors(app *App, noise float64, all bool) error {
	ctx := context.Background()
	ins, err := app.Inputs()
	if err != nil {
		return err
	}
	cached, err := app.st.Embeddings(ctx, DefaultEmbedder, nil)
	if err != nil {
		return err
	}
	// Seeded by how many are kept, so inputs added later do not repeat the earlier inputs' vectors.
	seed := int64(3)
	if !all {
		seed += int64(len(cached))
	}
	r := rand.New(rand.NewSource(seed))
	var ids []int64
	var vecs [][]float32
	for _, in := range ins {
		if _, ok := cached[in.ID]; ok && !all {
			continue
		}
		v := make([]float32, 8)
		for i := range v {
			v[i] = float32(noise * r.NormFloat64())
		}
		v[map[string]int{"cat": 0, "cow": 1, "dog": 2}[filepath.Base(filepath.Dir(in.Source))]] += 3
		ids, vecs = append(ids, in.ID), append(vecs, v)
	}
	return app.st.Tx(ctx, func(tx *store.Tx) error { return tx.PutEmbeddings(ctx, DefaultEmbedder, ids, vecs) })
}

func quietMessages(t *testing.T) *bytes.Buffer {
	var b bytes.Buffer
	old := Messages
	Messages = &b
	t.Cleanup(func() { Messages = old })
	return &b
}

func ruleError(t *testing.T, err error) *TestRuleError {
	t.Helper()
	var re *TestRuleError
	if !errors.Is(err, ErrTestRule) || !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *TestRuleError matching ErrTestRule", err)
	}
	return re
}

// TestTestRunsTheSelectedModelOnceAndRecordsWho covers App.Test: no selection, the first look (recorded
// with the OS user), the same look again (the recorded result, also across an identical re-split), and
// the user shown from the record, not read at display time.
func TestTestRunsTheSelectedModelOnceAndRecordsWho(t *testing.T) {
	quietMessages(t)
	app := ruleApp(t)
	if _, err := app.Test("ds"); !errors.Is(err, ErrNoSelection) || !strings.Contains(err.Error(), "app.Select(") {
		t.Fatalf("Test before Select: err = %v, want ErrNoSelection saying to run app.Select", err)
	}
	ch, err := app.Select("ds", "validation", "accuracy", "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	final, err := app.Test("ds")
	if err != nil {
		t.Fatal(err)
	}
	if final.Model != ch.Winner || final.Flag() != "" || final.Reused || final.RunBy != currentUser() || final.RunBy == "" {
		t.Fatalf("first test: model %s (selected %s), flag %q, reused %v, run by %q (want %q)", final.Model, ch.Winner, final.Flag(), final.Reused, final.RunBy, currentUser())
	}
	again, err := app.Test("ds")
	if err != nil || again.ID != final.ID || !again.Reused || again.RunBy != final.RunBy {
		t.Fatalf("the same look again must return the recorded evaluation: %+v %v", again, err)
	}
	// An identical re-split (a notebook run a second time): the same model on the same test inputs gets
	// its recorded result back, not a refusal.
	v2, err := app.Split("ds", Fractions(0.5, 0.25, 0.25).WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	if v2.Number != 1 || !v2.Reused {
		t.Fatalf("an identical re-split made v%d (reused %v), want v1 back", v2.Number, v2.Reused)
	}
	if _, err := app.Select("ds", "validation", "accuracy", "a", "b"); err != nil {
		t.Fatal(err)
	}
	rerun, err := app.Test("ds")
	if err != nil || rerun.ID != final.ID {
		t.Fatalf("testing the same model after an identical re-split: %v %v, want evaluation %d back", rerun, err, final.ID)
	}
	// The record shows who ran it, as recorded: changing $USER now changes nothing.
	t.Setenv("USER", "someone-at-display-time")
	rec, err := app.TestHistory("ds")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != 1 || len(rec.Runs) != 1 || rec.Runs[0].RunBy != final.RunBy || rec.Runs[0].Version != 1 ||
		rec.Runs[0].Evaluation == nil || rec.Runs[0].Evaluation.ID != final.ID || rec.Runs[0].Shared != rec.Inputs {
		t.Fatalf("test record of v1: %+v", rec)
	}
	text := rec.Table().Text()
	if !strings.Contains(text, final.RunBy) || strings.Contains(text, "someone-at-display-time") {
		t.Fatalf("the record must show the recorded user %q, not $USER at display time:\n%s", final.RunBy, text)
	}
	if err := rec.Show(); err != nil {
		t.Fatal(err)
	}
}

// TestTestRuleFollowsTestInputs covers the ways around the rule: selecting another model after a test,
// Recompute, re-splitting into a new version whose test split shares inputs, each refused naming the
// earlier look (model, who, when), and allowed with OverrideTestRule, recorded and flagged.
func TestTestRuleFollowsTestInputs(t *testing.T) {
	quietMessages(t)
	app := ruleApp(t)
	ch, err := app.Select("ds", "validation", "accuracy", "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	other := "a"
	if ch.Winner == "a" {
		other = "b"
	}
	final, err := app.Test("ds")
	if err != nil {
		t.Fatal(err)
	}
	// A model that was not selected.
	re := ruleError(t, func() error { _, err := app.Evaluate(other, "ds", "test"); return err }())
	if re.Selected != ch.Winner || len(re.Earlier) != 1 || re.Earlier[0].Model != ch.Winner {
		t.Fatalf("another model: %+v", re)
	}
	// Selecting the other model, then testing it: the selection is fine now, the test inputs are not new.
	if _, err := app.Select("ds", "validation", "accuracy", other); err != nil {
		t.Fatal(err)
	}
	_, err = app.Test("ds")
	re = ruleError(t, err)
	if re.Selected != "" || re.NoSelection || len(re.Earlier) != 1 {
		t.Fatalf("selecting another model after the test: %+v", re)
	}
	l := re.Earlier[0]
	if l.Model != ch.Winner || l.RunBy != final.RunBy || l.Version != 1 || l.Shared != re.Inputs || l.Created.IsZero() {
		t.Fatalf("the earlier look: %+v", l)
	}
	for _, want := range []string{fmt.Sprintf("%q on ds v1", ch.Winner), "by " + final.RunBy, l.Created.UTC().Format("2006-01-02 15:04"), "mlkit.OverrideTestRule(reason)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal must say %q: %v", want, err)
		}
	}
	// Recompute of the first model (selected again) is a second look.
	if _, err := app.Select("ds", "validation", "accuracy", ch.Winner); err != nil {
		t.Fatal(err)
	}
	if re = ruleError(t, func() error { _, err := app.Test("ds", Recompute()); return err }()); !re.Again {
		t.Fatalf("Recompute: %+v", re)
	}
	// A new version with new test inputs that shares the old ones inherits the history, for the same
	// model too: the test split changed after it was seen.
	ins, err := app.Upload().Folder(func() string {
		dir := t.TempDir()
		for i := 100; i < 112; i++ {
			p := filepath.Join(dir, []string{"cat", "cow", "dog"}[i%3], fmt.Sprintf("%d.png", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, noisePNG(t, int64(i)), 0o644)
		}
		return dir
	}()).LabelsFromFolders().Run(context.Background())
	if err != nil || len(ins.Added) != 12 {
		t.Fatalf("upload: %v %v", ins, err)
	}
	putEmbeddings(t, app)
	if _, err := app.Split("ds", Fractions(0.5, 0.25, 0.25).WithSeed(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Select("ds", "validation", "accuracy", ch.Winner); err != nil {
		t.Fatal(err)
	}
	_, err = app.Test("ds")
	re = ruleError(t, err)
	if re.Version != 2 || len(re.Earlier) != 1 || re.Earlier[0].Shared == 0 || re.Earlier[0].Shared >= re.Inputs {
		t.Fatalf("new version sharing test inputs: %+v", re)
	}
	// The override works, is recorded with its reason and user, and flagged.
	flagged, err := app.Test("ds", OverrideTestRule("12 new photos"))
	if err != nil || !strings.Contains(flagged.Flag(), "12 new photos") || flagged.Version != 2 || flagged.RunBy == "" {
		t.Fatalf("override: %v %v", flagged, err)
	}
	if same, err := app.Test("ds"); err != nil || same.ID != flagged.ID || same.Flag() == "" {
		t.Fatalf("the overridden look, asked again: %v %v", same, err)
	}
	rec, err := app.TestHistory("ds")
	if err != nil || len(rec.Runs) != 2 || rec.Runs[0].Flag() != "" || !strings.Contains(rec.Runs[1].Flag(), "12 new photos") {
		t.Fatalf("test record: %+v %v", rec, err)
	}
	if text := rec.Table().Text(); !strings.Contains(text, "12 new photos") || !strings.Contains(text, "v1,") || !strings.Contains(text, "v2,") {
		t.Fatalf("test record table:\n%s", text)
	}
}

// TestDecideTest checks the rule's decision on its own: what counts as the same look, and what is a new
// look at seen test inputs.
func TestDecideTest(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := store.Model{ID: 7, Name: "m", Created: created}
	want := map[int64]string{1: "cat", 2: "dog"}
	sel := store.Selection{ModelID: 7, Metric: "accuracy"}
	run := func(id, model int64, mc time.Time, inputs map[int64]string) store.TestRun {
		return store.TestRun{ID: id, EvaluationID: id * 10, ModelID: model, ModelName: fmt.Sprint("model", model), ModelCreated: mc,
			Dataset: "ds", Version: 1, RunBy: "alice", Inputs: inputs}
	}
	mine := run(1, 7, created, map[int64]string{1: "cat", 2: "dog"})
	cases := []struct {
		name     string
		runs     []store.TestRun
		found    bool
		opts     []EvalOption
		reuse    int64 // run id expected back, 0 for none
		refused  bool
		override string
		earlier  int
		noSel    bool
		again    bool
	}{
		{name: "first look by the selected model", found: true},
		{name: "no selection", refused: true, noSel: true},
		{name: "no selection, overridden", opts: []EvalOption{OverrideTestRule("why")}, override: "why"},
		{name: "the same look again", runs: []store.TestRun{mine}, found: true, reuse: 1},
		{name: "the same look, even without a selection now", runs: []store.TestRun{mine}, reuse: 1},
		{name: "the same look, the latest of two", runs: []store.TestRun{mine, run(2, 7, created, want)}, found: true, reuse: 2},
		{name: "Recompute is a second look", runs: []store.TestRun{mine}, found: true, opts: []EvalOption{Recompute()}, refused: true, again: true, earlier: 1},
		{name: "Recompute, overridden", runs: []store.TestRun{mine}, found: true, opts: []EvalOption{Recompute(), OverrideTestRule("bug fixed")}, override: "bug fixed"},
		{name: "a test label changed since", runs: []store.TestRun{run(1, 7, created, map[int64]string{1: "cat", 2: "cat"})}, found: true, refused: true, earlier: 1},
		{name: "an input added since", runs: []store.TestRun{run(1, 7, created, map[int64]string{1: "cat"})}, found: true, refused: true, earlier: 1},
		{name: "a model replaced under the same id", runs: []store.TestRun{run(1, 7, created.Add(time.Second), want)}, found: true, refused: true, earlier: 1},
		{name: "another model saw some of the inputs", runs: []store.TestRun{run(1, 8, created, map[int64]string{2: "dog", 3: "cow"})}, found: true, refused: true, earlier: 1},
		{name: "another model on other inputs only", runs: []store.TestRun{run(1, 8, created, map[int64]string{3: "cow"})}, found: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := evalOptions{threshold: 0.5}
			for _, f := range c.opts {
				f(&o)
			}
			plan, err := decideTest(c.runs, m, sel, c.found, "m", "ds", 2, want, o)
			if c.refused {
				re := ruleError(t, err)
				if len(re.Earlier) != c.earlier || re.NoSelection != c.noSel || re.Again != c.again || re.Inputs != 2 {
					t.Fatalf("refusal: %+v", re)
				}
				if c.earlier > 0 && (re.Earlier[0].RunBy != "alice" || re.Earlier[0].Shared == 0 || !strings.Contains(err.Error(), "by alice")) {
					t.Fatalf("the refusal must name the earlier look and who ran it: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := int64(0)
			if plan.reuse != nil {
				got = plan.reuse.ID
			}
			if got != c.reuse || plan.override != c.override {
				t.Fatalf("plan: reuse run %d (want %d), override %q (want %q)", got, c.reuse, plan.override, c.override)
			}
		})
	}
	// A model other than the selected one.
	_, err := decideTest(nil, m, store.Selection{ModelID: 8, Metric: "accuracy"}, true, "other", "ds", 2, want, evalOptions{})
	if re := ruleError(t, err); re.Selected != "other" || !strings.Contains(err.Error(), `"other" was selected on ds v2 (by accuracy), not "m"`) {
		t.Fatalf("not the selected model: %v", err)
	}
}

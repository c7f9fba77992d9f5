package main

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit"
	"github.com/visionnb/visionnb/mlkit/assets"
	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/search"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// labApp makes the app named name: n noise images in folders cat, cow and dog (labelled from the folders
// when labelled), each with a cached synthetic embedding of the default embedder, well separated by
// class, so that nothing is downloaded or embedded. It returns each input's class and vector.
func labApp(t *testing.T, name string, labelled bool, n int) (truth map[int64]string, vecs map[int64][]float32) {
	t.Helper()
	photos := t.TempDir()
	classes := []string{"cat", "cow", "dog"}
	for i := 0; i < n; i++ {
		writePNG(t, filepath.Join(photos, classes[i%3], fmt.Sprintf("%02d.png", i)), int64(i))
	}
	if r := call("create", name); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	up := []string{"upload", "--app", name, photos}
	if labelled {
		up = append(up, "--labels-from-folders")
	}
	if r := call(up...); r.code != 0 {
		t.Fatalf("upload: %s", r.stderr)
	}
	truth = map[int64]string{}
	vecs = cacheEmbeddings(t, name, mlkit.DefaultEmbedder, 7, func(r *rand.Rand, in mlkit.Input) []float32 {
		c := filepath.Base(filepath.Dir(in.Source))
		v := make([]float32, 8)
		for i := range v {
			v[i] = 0.3 * float32(r.NormFloat64())
		}
		v[map[string]int{"cat": 0, "cow": 1, "dog": 2}[c]] += 3
		truth[in.ID] = c
		return v
	})
	return truth, vecs
}

// idsOf returns the ids of class, ascending.
func idsOf(truth map[int64]string, class string) []string {
	var ids []int64
	for id, c := range truth {
		if c == class {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprint(id)
	}
	return out
}

type searchOut struct {
	Query      string   `json:"query"`
	Embedder   string   `json:"embedder"`
	Results    int      `json:"results"`
	Unselected int      `json:"unselected"`
	Selected   []hitRow `json:"selected"`
	Concept    string   `json:"concept"`
	Labelled   int      `json:"labelled"`
}

type suggestOut struct {
	Source      string          `json:"source"`
	Embedder    string          `json:"embedder"`
	Suggestions int             `json:"suggestions"`
	Kept        int             `json:"kept"`
	Listed      []suggestionRow `json:"listed"`
	Accepted    int             `json:"accepted"`
}

// TestCLISearchAndSuggest labels an unlabelled app from the command line: `mlkit search --like` ranks by
// the cosine with the examples' mean vector, selects the top N, lists it worst first with
// --least-confident, unselects by position and labels; `mlkit suggest` lists, reviews from the bottom and
// accepts a batch; zero-shot suggestions and text search run on the tiny CLIP (no download).
func TestCLISearchAndSuggest(t *testing.T) {
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv("MLKIT_VIEW_DIR", t.TempDir())
	t.Setenv(AppEnv, "lab")
	truth, vecs := labApp(t, "lab", false, 30)
	cats := idsOf(truth, "cat")

	var s searchOut
	decode(t, call("search", "--like", cats[0]+","+cats[1], "--unlabelled", "--top", "8", "--json"), &s)
	if s.Results != 30 || len(s.Selected) != 8 || s.Embedder != mlkit.DefaultEmbedder || s.Query != "like:"+cats[0]+","+cats[1] {
		t.Fatalf("search --like: %+v", s)
	}
	var c0, c1 int64
	fmt.Sscan(cats[0], &c0)
	fmt.Sscan(cats[1], &c1)
	q := search.Mean([][]float32{vecs[c0], vecs[c1]})
	for i, r := range s.Selected {
		if r.Position != i || truth[r.ID] != "cat" {
			t.Fatalf("selected %d: %+v (class %s), want a cat at position %d", i, r, truth[r.ID], i)
		}
		if cos := embed.Cosine(q, vecs[r.ID]); cos-float64(r.Score) > 1e-5 || float64(r.Score)-cos > 1e-5 {
			t.Fatalf("selected %d: score %.6f, want the cosine with the examples' mean %.6f", i, r.Score, cos)
		}
		if i > 0 && r.Score > s.Selected[i-1].Score {
			t.Fatalf("selection not best first at %d", i)
		}
	}
	var worst searchOut
	decode(t, call("search", "--like", cats[0], cats[1], "--unlabelled", "--top", "8", "--least-confident", "--json"), &worst)
	for i, r := range worst.Selected {
		if w := s.Selected[7-i]; r.ID != w.ID || r.Position != w.Position || r.Score != w.Score {
			t.Fatalf("--least-confident row %d = %+v, want %+v", i, r, s.Selected[7-i])
		}
	}
	if r := call("search", "--like", cats[0], "--top", "8", "--unselect", "8", "--label-as", "cat"); r.code != exitUsage || !strings.Contains(r.stderr, "position 8 is outside the selection of 8") {
		t.Fatalf("--unselect out of range: %+v", r)
	}
	if r := call("search", "--like", cats[0], "--text", "a cat"); r.code != exitUsage {
		t.Fatalf("--like and --text: %+v", r)
	}
	if r := call("search", "--like", cats[0], "--unselect", "x"); r.code != exitUsage {
		t.Fatalf("--unselect x: %+v", r)
	}
	// A selection saved by one command, reopened, edited and deleted by later ones.
	var saved searchOut
	decode(t, call("search", "--like", cats[0]+","+cats[1], "--unlabelled", "--top", "8", "--unselect", "1", "--save", "cats", "--json"), &saved)
	var shown searchOut
	decode(t, call("selection", "show", "cats", "--unselect", "0", "--json"), &shown)
	if len(saved.Selected) != 7 || len(shown.Selected) != 6 || shown.Selected[0].ID != saved.Selected[1].ID || shown.Query != s.Query {
		t.Fatalf("saved %+v, reopened with position 0 unselected %+v", saved, shown)
	}
	var listed []struct {
		Name                 string
		Selected, Unselected int
	}
	decode(t, call("selection", "ls", "--json"), &listed)
	if len(listed) != 1 || listed[0].Name != "cats" || listed[0].Selected != 6 || listed[0].Unselected != 2 {
		t.Fatalf("selection ls: %+v", listed)
	}
	if r := call("selection", "show", "dogs"); r.code != exitError || !strings.Contains(r.stderr, `saved: "cats"`) {
		t.Fatalf("an unknown selection: %+v", r)
	}
	if r := call("selection", "ls", "--label-as", "cat"); r.code != exitUsage {
		t.Fatalf("selection ls --label-as: %+v", r)
	}
	if r := call("search", "--like", cats[0], "--save", "bad\tname"); r.code != exitUsage || !strings.Contains(r.stderr, "selection name") {
		t.Fatalf("--save with a tab: %+v", r)
	}
	if r := call("selection", "rm", "cats"); r.code != 0 {
		t.Fatalf("selection rm: %+v", r)
	}
	if r := call("selection", "ls"); r.code != 0 || !strings.Contains(r.stdout, "no saved selections") {
		t.Fatalf("selection ls after rm: %+v", r)
	}

	var lab searchOut
	decode(t, call("search", "--like", cats[0]+","+cats[1], "--unlabelled", "--top", "8", "--unselect", "0", "--unselect", "2,3", "--label-as", "cat", "--json"), &lab)
	want := []int64{s.Selected[1].ID, s.Selected[4].ID, s.Selected[5].ID, s.Selected[6].ID, s.Selected[7].ID}
	if lab.Labelled != 5 || lab.Concept != "cat" || lab.Unselected != 3 || len(lab.Selected) != 5 {
		t.Fatalf("search --unselect --label-as: %+v", lab)
	}
	for i, r := range lab.Selected {
		if r.ID != want[i] || r.Position != i {
			t.Fatalf("after unselect, row %d = %+v, want input %d", i, r, want[i])
		}
	}
	var catRows []struct {
		ID int64 `json:"id"`
	}
	decode(t, call("inputs", "--concept", "cat", "--json"), &catRows)
	got := map[int64]bool{}
	for _, r := range catRows {
		got[r.ID] = true
	}
	for _, id := range want {
		if !got[id] || len(got) != len(want) {
			t.Fatalf("labelled cats %v, want %v", got, want)
		}
	}
	for _, c := range []string{"cow", "dog"} {
		var o searchOut
		decode(t, call("search", "--like", idsOf(truth, c)[0], "--unlabelled", "--top", "5", "--label-as", c, "--json"), &o)
		if o.Labelled != 5 {
			t.Fatalf("label %s: %+v", c, o)
		}
	}

	// Suggestions from the 15 labels for the 15 others.
	var all suggestOut
	decode(t, call("suggest", "--json"), &all)
	if all.Suggestions != 15 || len(all.Listed) != 15 || !strings.HasPrefix(all.Source, "nearest-centroid:") {
		t.Fatalf("suggest: %+v", all)
	}
	for i, r := range all.Listed {
		if r.Concept != truth[r.ID] {
			t.Fatalf("suggestion %+v, but input %d is a %s", r, r.ID, truth[r.ID])
		}
		if i > 0 && r.Confidence > all.Listed[i-1].Confidence {
			t.Fatalf("suggest: not most confident first at %d", i)
		}
	}
	var bottom suggestOut
	decode(t, call("suggest", "--least-confident", "--top", "3", "--json"), &bottom)
	if len(bottom.Listed) != 3 || bottom.Kept != 15 {
		t.Fatalf("suggest --least-confident --top 3: %+v", bottom)
	}
	for i, r := range bottom.Listed {
		if r != all.Listed[14-i] {
			t.Fatalf("--least-confident row %d = %+v, want %+v", i, r, all.Listed[14-i])
		}
	}
	min := all.Listed[7].Confidence
	n := 0
	for _, r := range all.Listed {
		if r.Confidence >= min {
			n++
		}
	}
	var batch suggestOut
	decode(t, call("suggest", "--min", fmt.Sprint(min), "--least-confident", "--json"), &batch)
	if batch.Kept != n || len(batch.Listed) != n || batch.Listed[0] != all.Listed[n-1] || batch.Accepted != 0 {
		t.Fatalf("suggest --min %g --least-confident: %+v, want the %d at least that confident, worst first", min, batch, n)
	}
	var acc suggestOut
	decode(t, call("suggest", "--accept", fmt.Sprint(min), "--json"), &acc)
	if acc.Accepted != n || acc.Kept != n {
		t.Fatalf("suggest --accept %g: %+v, want %d accepted", min, acc, n)
	}
	var rest suggestOut
	decode(t, call("suggest", "--json"), &rest)
	if rest.Suggestions != 15-n {
		t.Fatalf("after accepting %d: %d suggestions, want %d", n, rest.Suggestions, 15-n)
	}
	if r := call("suggest", "--prompt", "a {concept}"); r.code != exitUsage || !strings.Contains(r.stderr, "--concepts") {
		t.Fatalf("--prompt without --concepts: %+v", r)
	}
	if r := call("suggest", "--concepts", "cat"); r.code != exitUsage {
		t.Fatalf("one concept: %+v", r)
	}

	// Zero-shot and text search with the tiny random-weight CLIP.
	_, file, _, _ := runtime.Caller(0)
	tiny := filepath.Join(filepath.Dir(file), "..", "..", "mlkit", "models", "clip", "testdata", "tiny")
	var zs suggestOut
	decode(t, call("suggest", "--concepts", "cat, cow,dog", "--prompt", "a drawing of a {concept}", "--weights", tiny, "--least-confident", "--json"), &zs)
	if zs.Suggestions != 15-n || zs.Embedder != embed.CLIPViTB32 || !strings.Contains(zs.Source, `"a drawing of a {concept}"`) || !strings.HasPrefix(zs.Source, "zero-shot:") {
		t.Fatalf("zero-shot: %+v", zs)
	}
	for i, r := range zs.Listed {
		if i > 0 && r.Confidence < zs.Listed[i-1].Confidence {
			t.Fatalf("zero-shot --least-confident: not least confident first at %d", i)
		}
	}
	var text searchOut
	decode(t, call("search", "--text", "a cat", "--weights", tiny, "--top", "4", "--json"), &text)
	if text.Results != 30 || len(text.Selected) != 4 || text.Embedder != embed.CLIPViTB32 || text.Query != `text:"a cat"` {
		t.Fatalf("search --text: %+v", text)
	}

	// An image-only embedder has no text tower: the error gives the command line's way out, not Go's.
	mobilenet, ok := assets.SharedPath("models", "mobilenet_v2_035_tfjs")
	if !ok {
		t.Skipf("skipping the no-text-tower errors: shared MobileNetV2 weights not found at %s", mobilenet)
	}
	r := call("search", "--text", "a cat", "--embedder", mlkit.DefaultEmbedder, "--weights", mobilenet)
	if r.code != exitError || !strings.Contains(r.stderr, "no text tower") || !strings.Contains(r.stderr, "`mlkit search --like ID...`") || strings.Contains(r.stderr, ".Like(") {
		t.Fatalf("search --text with MobileNetV2: %+v", r)
	}
	r = call("suggest", "--concepts", "cat,dog", "--embedder", mlkit.DefaultEmbedder, "--weights", mobilenet)
	if r.code != exitError || !strings.Contains(r.stderr, "no text tower") || !strings.Contains(r.stderr, "drop --concepts") || strings.Contains(r.stderr, "SuggestFromLabels") {
		t.Fatalf("suggest --concepts with MobileNetV2: %+v", r)
	}
}

// TestCLILabelErrorsLeakageCell runs the checks from the command line on a labelled app of 30 images with
// two planted mislabels and one planted near-duplicate across splits: label-errors lists what
// app.LabelErrors finds with the same flags, leakage lists the duplicate, and cell lists the images of each
// confusion-matrix cell.
func TestCLILabelErrorsLeakageCell(t *testing.T) {
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv("MLKIT_VIEW_DIR", t.TempDir())
	t.Setenv(AppEnv, "checks")
	truth, vecs := labApp(t, "checks", true, 30)
	cat, dog := idsOf(truth, "cat")[3], idsOf(truth, "dog")[5]
	for _, fix := range [][]string{{"dog", cat}, {"cow", dog}} {
		if r := call("label", "--replace", "--concept", fix[0], fix[1]); r.code != 0 {
			t.Fatalf("plant a mislabel: %+v", r)
		}
	}
	if r := call("split", "--dataset", "ds", "--fractions", "0.5,0.25,0.25", "--seed", "1"); r.code != 0 {
		t.Fatalf("split: %+v", r)
	}
	type issueRow struct {
		ID            int64   `json:"id"`
		File          string  `json:"file_name"`
		Given         string  `json:"given"`
		GivenProb     float64 `json:"given_prob"`
		Suggested     string  `json:"suggested"`
		SuggestedProb float64 `json:"suggested_prob"`
	}
	var issues struct {
		Dataset string     `json:"dataset"`
		Version int        `json:"version"`
		Folds   int        `json:"folds"`
		Issues  []issueRow `json:"issues"`
	}
	decode(t, call("label-errors", "--dataset", "ds", "--folds", "3", "--min-confidence", "0.6", "--json"), &issues)
	// The command lists what the facade finds with the same settings (how well it finds them is the
	// facade's tests' business).
	a, err := mlkit.Open("checks")
	if err != nil {
		t.Fatal(err)
	}
	li, err := a.LabelErrors(mlkit.DefaultEmbedder, "ds", mlkit.Folds(3), mlkit.MinConfidence(0.6))
	if err != nil {
		t.Fatal(err)
	}
	if issues.Dataset != "ds" || issues.Version != 1 || issues.Folds != 3 || len(issues.Issues) != len(li.Items) {
		t.Fatalf("label-errors: %+v, want the facade's %d issues", issues, len(li.Items))
	}
	for i, is := range li.Items {
		in, _ := a.Store().Input(context.Background(), is.InputID)
		if w := (issueRow{is.InputID, in.FileName, is.Given, is.GivenProb, is.Suggested, is.SuggestedProb}); issues.Issues[i] != w || w.SuggestedProb < 0.6 {
			t.Fatalf("label-errors row %d = %+v, want %+v (suggested at least 0.6)", i, issues.Issues[i], w)
		}
	}
	a.Close()
	if r := call("label-errors", "--dataset", "ds", "--folds", "3", "--min-confidence", "0.6"); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("ds v1: %d likely label errors of 30 (prune_by_noise_rate, 3-fold", len(li.Items))) {
		t.Fatalf("label-errors (text): %+v", r)
	}
	// The baseline method and the margin ranking are flags too; the facade finds the same.
	var base struct {
		Method string     `json:"method"`
		RankBy string     `json:"rank_by"`
		Issues []issueRow `json:"issues"`
	}
	decode(t, call("label-errors", "--dataset", "ds", "--folds", "3", "--method", "predicted_neq_given", "--rank-by", "normalized_margin", "--json"), &base)
	a, err = mlkit.Open("checks")
	if err != nil {
		t.Fatal(err)
	}
	bl, err := a.LabelErrors(mlkit.DefaultEmbedder, "ds", mlkit.Folds(3), mlkit.FindIssuesBy(eval.FilterPredictedNotGiven), mlkit.RankIssuesBy(eval.RankNormalizedMargin))
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	if base.Method != "predicted_neq_given" || base.RankBy != "normalized_margin" || len(base.Issues) != len(bl.Items) {
		t.Fatalf("label-errors --method predicted_neq_given: %+v, want the facade's %d issues", base, len(bl.Items))
	}
	if r := call("label-errors", "--dataset", "ds", "--method", "nope"); r.code != exitError || !strings.Contains(r.stderr, "unknown filter") {
		t.Fatalf("--method nope: %+v", r)
	}
	if r := call("label-errors", "--dataset", "ds", "--folds", "1"); r.code != exitUsage || !strings.Contains(r.stderr, "flag -folds") {
		t.Fatalf("--folds 1: %+v", r)
	}
	if r := call("label-errors", "--dataset", "nope"); r.code != exitError {
		t.Fatalf("label-errors on a missing dataset: %+v", r)
	}

	// Plant a near duplicate: a test image gets the vector of a training image.
	a, err = mlkit.Open("checks")
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Version("ds", 0)
	if err != nil {
		t.Fatal(err)
	}
	members, err := a.Store().Members(context.Background(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	var trainID, testID int64
	for _, m := range members {
		switch {
		case m.Split == store.Train && trainID == 0:
			trainID = m.InputID
		case m.Split == store.Test && testID == 0:
			testID = m.InputID
		}
	}
	ctx := context.Background()
	if err := a.Store().Tx(ctx, func(tx *store.Tx) error {
		return tx.PutEmbeddings(ctx, mlkit.DefaultEmbedder, []int64{testID}, [][]float32{vecs[trainID]})
	}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	var leak struct {
		Threshold float64 `json:"threshold"`
		Pairs     []struct {
			A, B       int64
			Similarity float64
		} `json:"pairs"`
	}
	// The hash clauses off: the cosine alone (the synthetic vectors of one class are all close).
	decode(t, call("leakage", "--dataset", "ds", "--threshold", "0.9999", "--hash-distance", "0", "--combined-distance", "0", "--json"), &leak)
	if len(leak.Pairs) != 1 || leak.Pairs[0].Similarity < 0.9999 || leak.Threshold < 0.9998 ||
		!(leak.Pairs[0].A == trainID && leak.Pairs[0].B == testID || leak.Pairs[0].A == testID && leak.Pairs[0].B == trainID) {
		t.Fatalf("leakage: %+v, want the pair %d (train) and %d (test)", leak, trainID, testID)
	}
	if r := call("leakage", "--dataset", "ds", "--threshold", "0.9999", "--hash-distance", "0", "--combined-distance", "0"); r.code != 0 || !strings.Contains(r.stdout, "1 near-duplicate pair across") {
		t.Fatalf("leakage (text): %+v", r)
	}
	if r := call("leakage", "--dataset", "ds", "--threshold", "0"); r.code != exitUsage {
		t.Fatalf("--threshold 0: %+v", r)
	}

	// The images of a confusion-matrix cell.
	if r := call("train", "--dataset", "ds", "--model", "m", "--head", mlkit.DefaultEmbedder, "--epochs", "3"); r.code != 0 {
		t.Fatalf("train: %+v", r)
	}
	var ev struct {
		Classes   []string `json:"classes"`
		Confusion [][]int  `json:"confusion"`
	}
	decode(t, call("evaluate", "--dataset", "ds", "--model", "m", "--json"), &ev)
	type cellOut struct {
		Split  string `json:"split"`
		Inputs []struct {
			ID            int64   `json:"id"`
			PredictedProb float64 `json:"predicted_prob"`
		} `json:"inputs"`
	}
	for ai, actual := range ev.Classes {
		for pi, predicted := range ev.Classes {
			var cell cellOut
			decode(t, call("cell", "--dataset", "ds", "--model", "m", "--actual", actual, "--predicted", predicted, "--json"), &cell)
			if len(cell.Inputs) != ev.Confusion[ai][pi] || cell.Split != "validation" {
				t.Fatalf("cell (%s, %s): %d inputs on %s, want the confusion matrix's %d", actual, predicted, len(cell.Inputs), cell.Split, ev.Confusion[ai][pi])
			}
		}
	}
	if r := call("cell", "--dataset", "ds", "m", "cat", "cat"); r.code != 0 || !strings.Contains(r.stdout, "actual cat, predicted cat: "+view.Count(ev.Confusion[0][0], "image")) {
		t.Fatalf("cell MODEL ACTUAL PREDICTED: %+v", r)
	}
	if r := call("cell", "--dataset", "ds", "--model", "m", "--actual", "cat", "--predicted", "horse"); r.code != exitError || !strings.Contains(r.stderr, "unknown concept") {
		t.Fatalf("cell with an unknown concept: %+v", r)
	}
	if r := call("cell", "--model", "m"); r.code != exitUsage {
		t.Fatalf("cell without --actual: %+v", r)
	}

	// The planted near duplicate stops the test evaluation until it is acknowledged.
	if r := call("select", "--dataset", "ds", "m"); r.code != 0 {
		t.Fatalf("select: %+v", r)
	}
	if r := call("test", "--dataset", "ds"); r.code != exitError || !strings.Contains(r.stderr, "near duplicates in train or validation") ||
		!strings.Contains(r.stderr, "--acknowledge-leakage") || !strings.Contains(r.stderr, fmt.Sprintf("input %d", testID)) {
		t.Fatalf("test with a leak: %+v", r)
	}
	var final struct {
		Flag string `json:"flag"`
	}
	decode(t, call("test", "--dataset", "ds", "--acknowledge-leakage", "planted by the test", "--json"), &final)
	if !strings.Contains(final.Flag, "acknowledged (planted by the test)") {
		t.Fatalf("acknowledged test: flag %q", final.Flag)
	}
	if r := call("evaluate", "--dataset", "ds", "--model", "m", "--acknowledge-leakage", "x"); r.code != exitUsage {
		t.Fatalf("--acknowledge-leakage on validation: %+v", r)
	}
}

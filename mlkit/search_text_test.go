package mlkit

import (
	"image"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/search"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// tinyCLIPDir is the tiny random-weight CLIP fixture (same files as the Hugging Face folder).
func tinyCLIPDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "models", "clip", "testdata", "tiny")
}

// clipApp makes an app of 14 noise images, two of them labelled, and returns it with the tiny CLIP's
// options, the model and the ids of the unlabelled inputs.
func clipApp(t *testing.T) (*App, embed.Options, embed.Embedder, []int64) {
	view.SetOutputDir(t.TempDir())
	photos := t.TempDir()
	for i := 0; i < 14; i++ {
		if err := os.WriteFile(filepath.Join(photos, string(rune('a'+i))+".png"), noisePNG(t, int64(100+i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app, err := Create(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	rep, err := app.Upload().Folder(photos).Run(bg)
	if err != nil || len(rep.Added) != 14 {
		t.Fatalf("upload: %v, %+v", err, rep)
	}
	ins, _ := app.Inputs()
	if _, err := app.Label("cat", ins[0].ID, ins[1].ID); err != nil {
		t.Fatal(err)
	}
	var unlabelled []int64
	for _, in := range ins[2:] {
		unlabelled = append(unlabelled, in.ID)
	}
	opts := embed.NewOptions().WithDir(tinyCLIPDir(t))
	em, err := embed.NewCLIP(opts)
	if err != nil {
		t.Fatal(err)
	}
	return app, opts, em, unlabelled
}

// imageVectors embeds the app's inputs again, apart from the app's cache.
func imageVectors(t *testing.T, app *App, em embed.Embedder, ids []int64) map[int64][]float32 {
	imgs := make([]image.Image, len(ids))
	for i, id := range ids {
		in, err := app.Store().Input(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		if imgs[i], err = app.Image(in); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := em.EmbedImages(imgs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64][]float32{}
	for i, id := range ids {
		out[id] = vs[i]
	}
	return out
}

// TestTextSearchWithTinyCLIP runs Search(clip).Text through the facade: it ranks every unlabelled input
// (and nothing else) by the cosine of its image vector with the query's text vector, both computed here
// independently of the app, and pages from the bottom.
func TestTextSearchWithTinyCLIP(t *testing.T) {
	app, opts, em, unlabelled := clipApp(t)
	const query = "a photo of a horse"
	res, err := app.Search(embed.CLIPViTB32).Options(opts).Text(query).Unlabelled().Run()
	if err != nil {
		t.Fatal(err)
	}
	qv, err := em.(embed.TextEmbedder).EmbedTexts([]string{query})
	if err != nil {
		t.Fatal(err)
	}
	imgs := imageVectors(t, app, em, unlabelled)
	if res.Len() != len(unlabelled) || res.Query != `text:"a photo of a horse"` || res.Model != embed.CLIPViTB32 {
		t.Fatalf("%d results for %q with %s, want %d unlabelled inputs", res.Len(), res.Query, res.Model, len(unlabelled))
	}
	seen := map[int64]bool{}
	for i, h := range res.Hits {
		v, ok := imgs[h.ID]
		if !ok || seen[h.ID] {
			t.Fatalf("hit %d: input %d is labelled or ranked twice", i, h.ID)
		}
		seen[h.ID] = true
		if cos := embed.Cosine(qv[0], v); math.Abs(float64(h.Score)-cos) > 1e-4 {
			t.Fatalf("hit %d: input %d scores %.6f, but the cosine of its image and the query is %.6f", i, h.ID, h.Score, cos)
		}
		if i > 0 && h.Score > res.Hits[i-1].Score {
			t.Fatalf("hit %d scores %.6f, above hit %d (%.6f): not best first", i, h.Score, i-1, res.Hits[i-1].Score)
		}
	}
	bottom := res.Bottom(3)
	if len(bottom) != 3 || bottom[0] != res.Hits[len(res.Hits)-1] || bottom[2] != res.Hits[len(res.Hits)-3] {
		t.Fatalf("Bottom(3) = %v, want the last three hits worst first (of %v)", bottom, res.Hits)
	}
	if len(res.Bottom(-1)) != res.Len() || len(res.Bottom(100)) != res.Len() {
		t.Fatal("Bottom(n) beyond the ranking must return all of it")
	}
	if err := res.ShowBottom(3); err != nil {
		t.Fatal(err)
	}
	// The selection's bottom is the bottom of what is selected, and labelling records the query.
	sel := res.Select().Top(5)
	if b := sel.Bottom(2); len(b) != 2 || b[0] != res.Hits[4] || b[1] != res.Hits[3] {
		t.Fatalf("selection Bottom(2) = %v, want hits 4 and 3", b)
	}
	if err := sel.Unselect(0); err != nil {
		t.Fatal(err)
	}
	n, err := sel.LabelAs("horse")
	if err != nil || n != 4 {
		t.Fatalf("LabelAs: %d, %v; want 4", n, err)
	}
	h, _ := app.History(res.Hits[1].ID)
	if len(h) != 1 || h[0].Source != store.SourceSearch || h[0].Detail != res.Query {
		t.Fatalf("history of a labelled hit: %+v", h)
	}
	again, err := app.Search(embed.CLIPViTB32).Options(opts).Text(query).Unlabelled().Run()
	if err != nil || again.Len() != len(unlabelled)-4 || again.Hits[0].ID != res.Hits[0].ID {
		t.Fatalf("search after labelling 4: %d results (err %v), want %d with the unselected best first", again.Len(), err, len(unlabelled)-4)
	}
}

// TestZeroShotWithTinyCLIP runs SuggestZeroShot through the facade: every unlabelled input gets the
// concept whose prompt (the template filled in) is nearest, with softmax(scale·cosine) over the prompts as
// confidence, the model's own logit scale by default; the list pages from the bottom, and a reviewed batch
// (Above) is what Accept labels.
func TestZeroShotWithTinyCLIP(t *testing.T) {
	app, opts, em, unlabelled := clipApp(t)
	concepts := []string{"horse", "dog", "cat"}
	const template = "a blurry picture of a {concept}"
	te := em.(embed.TextEmbedder)
	imgs := imageVectors(t, app, em, unlabelled)
	expect := func(template string, scale float64) map[int64]Suggestion {
		tv, err := te.EmbedTexts(search.Prompts(template, concepts))
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]Suggestion{}
		for _, id := range unlabelled {
			logits := make([]float64, len(concepts))
			mx := math.Inf(-1)
			for c := range concepts {
				logits[c] = scale * embed.Cosine(tv[c], imgs[id])
				mx = math.Max(mx, logits[c])
			}
			sum := 0.0
			for c := range logits {
				logits[c] = math.Exp(logits[c] - mx)
				sum += logits[c]
			}
			order := []int{0, 1, 2}
			sort.Slice(order, func(i, j int) bool { return logits[order[i]] > logits[order[j]] })
			out[id] = Suggestion{InputID: id, Concept: concepts[order[0]], Confidence: logits[order[0]] / sum,
				Margin: (logits[order[0]] - logits[order[1]]) / sum}
		}
		return out
	}
	check := func(name string, got *Suggestions, want map[int64]Suggestion) {
		t.Helper()
		if got.Len() != len(unlabelled) {
			t.Fatalf("%s: %d suggestions, want one per unlabelled input (%d)", name, got.Len(), len(unlabelled))
		}
		seen := map[int64]bool{}
		for i, it := range got.Items {
			w, ok := want[it.InputID]
			if !ok || seen[it.InputID] {
				t.Fatalf("%s: suggestion for input %d, which is labelled or listed twice", name, it.InputID)
			}
			seen[it.InputID] = true
			if math.Abs(it.Confidence-w.Confidence) > 1e-3 || math.Abs(it.Margin-w.Margin) > 1e-3 || (it.Concept != w.Concept && w.Margin > 1e-3) {
				t.Fatalf("%s: input %d: got %s %.4f (margin %.4f), want %s %.4f (margin %.4f)", name, it.InputID, it.Concept, it.Confidence, it.Margin, w.Concept, w.Confidence, w.Margin)
			}
			if i > 0 && it.Confidence > got.Items[i-1].Confidence {
				t.Fatalf("%s: suggestions not most confident first at %d", name, i)
			}
		}
	}
	scale := float64(em.(interface{ LogitScale() float32 }).LogitScale())
	sug, err := app.SuggestZeroShot(embed.CLIPViTB32, concepts, SuggestWith(opts), Prompt(template))
	if err != nil {
		t.Fatal(err)
	}
	check("prompt template", sug, expect(template, scale))
	if !strings.Contains(sug.Source, template) {
		t.Fatalf("source %q must record the prompt template", sug.Source)
	}
	def, err := app.SuggestZeroShot(embed.CLIPViTB32, concepts, SuggestWith(opts), Scale(7))
	if err != nil {
		t.Fatal(err)
	}
	check("default prompt, scale 7", def, expect(search.DefaultPrompt, 7))
	if !strings.Contains(def.Source, search.DefaultPrompt) {
		t.Fatalf("source %q must record the default prompt", def.Source)
	}

	// Least confident first from the bottom.
	bottom := def.Bottom(4)
	if len(bottom) != 4 {
		t.Fatalf("Bottom(4): %d", len(bottom))
	}
	for i, b := range bottom {
		if b != def.Items[def.Len()-1-i] {
			t.Fatalf("Bottom(4)[%d] = %+v, want item %d from the end", i, b, i)
		}
	}
	for _, it := range def.Items {
		if it.Confidence < bottom[0].Confidence {
			t.Fatalf("Bottom(4)[0] has confidence %.4f but input %d has %.4f", bottom[0].Confidence, it.InputID, it.Confidence)
		}
	}
	if err := def.ShowBottom(4); err != nil {
		t.Fatal(err)
	}
	for page := range 2 {
		if err := def.ShowBottomPage(page); err != nil {
			t.Fatalf("ShowBottomPage(%d): %v", page, err)
		}
	}
	// Review the bottom of the batch to accept, then accept exactly that batch.
	mid := def.Items[def.Len()/2].Confidence
	all := def.Len()
	batch := def.Above(mid)
	if batch != def || batch.Len() < all/2 || batch.Len() == all && def.Items[all-1].Confidence < mid {
		t.Fatalf("Above(%.4f) kept %d of %d", mid, batch.Len(), all)
	}
	want := map[int64]string{}
	for _, it := range batch.Items {
		if it.Confidence < mid {
			t.Fatalf("Above(%.4f) kept input %d at %.4f", mid, it.InputID, it.Confidence)
		}
		want[it.InputID] = it.Concept
	}
	if err := batch.ShowBottom(3); err != nil {
		t.Fatal(err)
	}
	n, err := batch.Accept(mid)
	if err != nil || n != len(want) {
		t.Fatalf("Accept: %d, %v; want %d", n, err, len(want))
	}
	for id, c := range want {
		h, _ := app.History(id)
		if len(h) != 1 || h[0].Concept != c || h[0].Source != store.SourceModel || h[0].Detail != def.Source {
			t.Fatalf("input %d after Accept: %+v, want %s from the model", id, h, c)
		}
	}
	rest, err := app.SuggestZeroShot(embed.CLIPViTB32, concepts, SuggestWith(opts))
	if err != nil || rest.Len() != len(unlabelled)-len(want) {
		t.Fatalf("suggestions after accepting %d: %d (err %v), want %d", len(want), rest.Len(), err, len(unlabelled)-len(want))
	}
	if top := rest.Top(2); top.Len() != min(2, len(unlabelled)-len(want)) {
		t.Fatalf("Top(2) kept %d", top.Len())
	}
}

package mlkit

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/search"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// Suggestion proposes a concept for an unlabelled input, for review before Accept.
type Suggestion struct {
	InputID    int64
	Concept    string
	Confidence float64
	Margin     float64
}

// Suggestions is a reviewable list of proposed labels, most confident first.
type Suggestions struct {
	app *App
	// Source says how they were made (e.g. `zero-shot:clip "a photo of a {concept}"`); it is recorded
	// as the labels' source detail when accepted.
	Source string
	Items  []Suggestion
}

// SuggestOption adjusts App.SuggestZeroShot and App.SuggestFromLabels.
type SuggestOption func(*suggestOptions)

type suggestOptions struct {
	embed  embed.Options
	scale  float64 // 0: the method's default
	prompt string
	err    error
}

func newSuggestOptions(opts []SuggestOption) suggestOptions {
	o := suggestOptions{embed: embed.NewOptions(), prompt: search.DefaultPrompt}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// SuggestWith sets the embedder's options: weights folder, batch size, backend (default
// embed.NewOptions()).
func SuggestWith(o embed.Options) SuggestOption { return func(s *suggestOptions) { s.embed = o } }

// Scale sets how sharply the softmax over cosine similarities picks a concept: probabilities are
// softmax(scale·cosine). The default is 20 for SuggestFromLabels (good for CNN features) and the model's
// own logit scale (100 for CLIP) for SuggestZeroShot. It must be positive.
func Scale(s float64) SuggestOption {
	return func(o *suggestOptions) {
		if !(s > 0) || math.IsInf(s, 0) {
			o.err = fmt.Errorf("Scale(%g): want a positive number", s)
		}
		o.scale = s
	}
}

// Prompt sets SuggestZeroShot's text template, with {concept} standing for each concept (default
// search.DefaultPrompt, "a photo of a {concept}").
func Prompt(template string) SuggestOption { return func(o *suggestOptions) { o.prompt = template } }

// SuggestZeroShot proposes a concept for every unlabelled input from text prompts (see Prompt), with
// CLIP's probabilities softmax(scale·cosine). It needs a cross-modal embedder; with an image-only model it
// returns ErrNoTextTower (use SuggestFromLabels instead).
func (a *App) SuggestZeroShot(model string, concepts []string, opts ...SuggestOption) (*Suggestions, error) {
	o := newSuggestOptions(opts)
	if o.err != nil {
		return nil, fmt.Errorf("mlkit: zero-shot: %w", o.err)
	}
	template := o.prompt
	if template == "" {
		template = search.DefaultPrompt
	}
	em, err := zoo.Embedder(model, o.embed)
	if err != nil {
		return nil, fmt.Errorf("mlkit: zero-shot: %w", err)
	}
	te, ok := em.(embed.TextEmbedder)
	if !ok {
		return nil, fmt.Errorf("mlkit: zero-shot with %s: %w; use SuggestFromLabels, which works with any embedder once a few inputs per concept are labelled", model, ErrNoTextTower)
	}
	texts, err := te.EmbedTexts(search.Prompts(template, concepts))
	if err != nil {
		return nil, fmt.Errorf("mlkit: zero-shot prompts: %w", err)
	}
	scale := 100.0
	// clip.Model's LogitScale is a float32: the model's own exp(logit_scale), not always 100.
	if ls, ok := em.(interface{ LogitScale() float32 }); ok {
		scale = float64(ls.LogitScale())
	}
	if o.scale > 0 {
		scale = o.scale
	}
	emb, labels, err := a.embeddedLabels(model, o.embed)
	if err != nil {
		return nil, err
	}
	return a.suggest(emb, labels, concepts, texts, scale, fmt.Sprintf("zero-shot:%s %q", model, template))
}

// SuggestFromLabels proposes, for every unlabelled input, the concept whose labelled examples' mean
// embedding is nearest (a nearest-centroid classifier over the cached embeddings). It works with any
// embedder; Scale sharpens the softmax over cosine similarities (default 20).
func (a *App) SuggestFromLabels(model string, opts ...SuggestOption) (*Suggestions, error) {
	o := newSuggestOptions(opts)
	if o.err != nil {
		return nil, fmt.Errorf("mlkit: suggestions: %w", o.err)
	}
	emb, labels, err := a.embeddedLabels(model, o.embed)
	if err != nil {
		return nil, err
	}
	byConcept := map[string][][]float32{}
	for _, l := range labels {
		if v := emb.Vector(l.InputID); v != nil {
			byConcept[l.Concept] = append(byConcept[l.Concept], v)
		}
	}
	if len(byConcept) < 2 {
		return nil, fmt.Errorf("mlkit: suggestions need labelled examples of at least 2 concepts, found %d: label a few inputs per concept first (e.g. with a search)", len(byConcept))
	}
	var concepts []string
	for c := range byConcept {
		concepts = append(concepts, c)
	}
	sort.Strings(concepts)
	centroids := make([][]float32, len(concepts))
	for i, c := range concepts {
		centroids[i] = search.Mean(byConcept[c])
	}
	scale := 20.0
	if o.scale > 0 {
		scale = o.scale
	}
	return a.suggest(emb, labels, concepts, centroids, scale, fmt.Sprintf("nearest-centroid:%s", model))
}

// embeddedLabels returns every input's embedding from model (computing the missing ones) and the
// current labels.
func (a *App) embeddedLabels(model string, o embed.Options) (*Embeddings, []store.Label, error) {
	emb, err := a.Embed(model, EmbedWith(o))
	if err != nil {
		return nil, nil, err
	}
	labels, err := a.st.ActiveLabels(context.Background())
	if err != nil {
		return nil, nil, fmt.Errorf("mlkit: suggestions: %w", err)
	}
	return emb, labels, nil
}

// suggest ranks the unlabelled inputs against one vector per concept (prompts or centroids).
func (a *App) suggest(emb *Embeddings, labels []store.Label, concepts []string, vecs [][]float32, scale float64, source string) (*Suggestions, error) {
	labelled := map[int64]bool{}
	for _, l := range labels {
		labelled[l.InputID] = true
	}
	sug, err := search.ZeroShot(emb.Index, vecs, scale, func(id int64) bool { return !labelled[id] })
	if err != nil {
		return nil, fmt.Errorf("mlkit: suggestions: %w", err)
	}
	out := &Suggestions{app: a, Source: source}
	for _, s := range sug {
		out.Items = append(out.Items, Suggestion{InputID: s.ID, Concept: concepts[s.Concept], Confidence: s.Confidence, Margin: s.Margin})
	}
	return out, nil
}

// Show displays the first page of suggestions (most confident first) for review.
func (s *Suggestions) Show() error { return s.ShowPage(0) }

// ShowPage displays one page (0-based) of the suggestions, most confident first.
func (s *Suggestions) ShowPage(page int) error {
	g, err := s.gallery(s.Items, fmt.Sprintf("%d suggested labels (%s)", len(s.Items), s.Source))
	if err != nil {
		return err
	}
	_, err = g.Page(page).Show()
	return err
}

// ShowBottom displays the n least confident suggestions, least confident first: the ones to look at
// before accepting a batch (narrow it first with Above to the batch Accept would label).
func (s *Suggestions) ShowBottom(n int) error {
	items := s.Bottom(n)
	g, err := s.gallery(items, fmt.Sprintf("the %d least confident of %d suggested labels (%s)", len(items), len(s.Items), s.Source))
	if err != nil {
		return err
	}
	_, err = g.Show()
	return err
}

// ShowBottomPage displays one page (0-based, 48 a page) of the suggestions least confident first: page
// 0 is ShowBottom(48), page 1 the next 48 up, and so on, to review a whole batch from its bottom.
func (s *Suggestions) ShowBottomPage(page int) error {
	items := s.Bottom(-1)
	g, err := s.gallery(items, fmt.Sprintf("%d suggested labels, least confident first (%s)", len(items), s.Source))
	if err != nil {
		return err
	}
	_, err = g.Page(page).Show()
	return err
}

// gallery renders items: thumbnail, file name, suggested concept and confidence (uncertain ones marked).
func (s *Suggestions) gallery(items []Suggestion, title string) (*view.GalleryView, error) {
	g := view.Gallery().Columns(8).PageSize(48).ThumbSize(112).Title(title)
	for _, it := range items {
		in, err := s.app.st.Input(context.Background(), it.InputID)
		if err != nil {
			return nil, fmt.Errorf("mlkit: suggestion for input %d: %w", it.InputID, err)
		}
		color := view.ColorCorrect
		if it.Confidence < 0.6 {
			color = view.ColorUncertain
		}
		g.Add(view.Item{ID: fmt.Sprint(in.ID), Image: s.app.st.ThumbPath(in.SHA256), Caption: in.FileName,
			Label: it.Concept, Score: it.Confidence, Color: color})
	}
	return g, nil
}

// Len is the number of suggestions.
func (s *Suggestions) Len() int { return len(s.Items) }

// Top keeps the n most confident suggestions (all when n is negative or at least Len) and returns s.
func (s *Suggestions) Top(n int) *Suggestions {
	if n >= 0 && n < len(s.Items) {
		s.Items = s.Items[:n]
	}
	return s
}

// Above keeps the suggestions at least minConfidence confident, the batch Accept(minConfidence) would
// label, and returns s: review its least confident with ShowBottom before accepting it.
func (s *Suggestions) Above(minConfidence float64) *Suggestions {
	kept := s.Items[:0:0]
	for _, it := range s.Items {
		if it.Confidence >= minConfidence {
			kept = append(kept, it)
		}
	}
	s.Items = kept
	return s
}

// Bottom returns the n least confident suggestions, least confident first (all of them when n is
// negative or larger than Len): page the suggestions from the bottom with it.
func (s *Suggestions) Bottom(n int) []Suggestion {
	if n < 0 || n > len(s.Items) {
		n = len(s.Items)
	}
	out := make([]Suggestion, n)
	for i := range out {
		out[i] = s.Items[len(s.Items)-1-i]
	}
	return out
}

// Accept labels every suggested input whose confidence is at least minConfidence (source "model", the
// suggestion method as detail) and returns the number of labels added. Review first with Show; drop
// single items with Reject.
func (s *Suggestions) Accept(minConfidence float64) (int, error) {
	byConcept := map[string][]int64{}
	for _, it := range s.Items {
		if it.Confidence >= minConfidence {
			byConcept[it.Concept] = append(byConcept[it.Concept], it.InputID)
		}
	}
	total := 0
	for c, ids := range byConcept {
		n, err := s.app.LabelFromModel(c, s.Source, ids...)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// Reject drops suggestions for these inputs so Accept will not label them.
func (s *Suggestions) Reject(inputIDs ...int64) {
	drop := map[int64]bool{}
	for _, id := range inputIDs {
		drop[id] = true
	}
	kept := s.Items[:0]
	for _, it := range s.Items {
		if !drop[it.InputID] {
			kept = append(kept, it)
		}
	}
	s.Items = kept
}

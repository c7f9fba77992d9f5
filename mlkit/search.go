package mlkit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/search"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// ErrNoTextTower is returned by text search and zero-shot suggestions when the embedder has no text
// tower: use visual search (Search(...).Like(ids...)) instead, or a cross-modal model such as CLIP.
var ErrNoTextTower = errors.New("this embedder has no text tower, so text search is not possible with it")

// SearchBuilder collects a search's query and filters; Run executes it. Start with App.Search.
type SearchBuilder struct {
	app        *App
	model      string
	opts       embed.Options
	text       string
	like       []int64
	unlabelled bool
	concept    string
	dataset    string
	split      store.Split
}

// Search starts a search over the app's inputs with the named embedder (e.g. DefaultEmbedder or a CLIP
// model). Give the query with Text (cross-modal models only) or Like (example images, any model).
func (a *App) Search(model string) *SearchBuilder {
	return &SearchBuilder{app: a, model: model, opts: embed.NewOptions()}
}

// Options sets the embedder options (weights folder, backend, ...).
func (b *SearchBuilder) Options(o embed.Options) *SearchBuilder { b.opts = o; return b }

// Text queries by a sentence, e.g. "a photo of a horse" (needs a cross-modal embedder).
func (b *SearchBuilder) Text(query string) *SearchBuilder { b.text = query; return b }

// Like queries by one or more example images: the mean of their embeddings.
func (b *SearchBuilder) Like(inputIDs ...int64) *SearchBuilder { b.like = inputIDs; return b }

// Unlabelled keeps only inputs without any label.
func (b *SearchBuilder) Unlabelled() *SearchBuilder { b.unlabelled = true; return b }

// Labelled keeps only inputs labelled with concept (to review a concept's least likely members).
func (b *SearchBuilder) Labelled(concept string) *SearchBuilder { b.concept = concept; return b }

// InSplit keeps only inputs of one split (SplitTrain, SplitValidation or SplitTest) of the latest version
// of a dataset.
func (b *SearchBuilder) InSplit(dataset string, split Split) *SearchBuilder {
	b.dataset, b.split = dataset, split
	return b
}

// Results is a ranking of inputs for a query, best match first.
type Results struct {
	app *App
	// Query describes the query, e.g. `text:"a horse"` or `like:12,40`; it becomes the labels' source.
	Query string
	// Model is the embedder used.
	Model string
	// Hits are the ranked inputs.
	Hits   []search.Hit
	inputs map[int64]store.Input
	labels map[int64][]string
}

// Run embeds what is missing, builds the query vector and ranks every input the filters keep.
func (b *SearchBuilder) Run() (*Results, error) {
	if (b.text == "") == (len(b.like) == 0) {
		return nil, fmt.Errorf("mlkit: search: give exactly one query: .Text(\"...\") or .Like(inputIDs...)")
	}
	emb, err := b.app.Embed(b.model, EmbedWith(b.opts))
	if err != nil {
		return nil, err
	}
	var q []float32
	var desc string
	if b.text != "" {
		em, err := zoo.Embedder(b.model, b.opts)
		if err != nil {
			return nil, fmt.Errorf("mlkit: search: %w", err)
		}
		te, ok := em.(embed.TextEmbedder)
		if !ok {
			return nil, fmt.Errorf("mlkit: search %q with %s: %w; search by example images with .Like(ids...), or use a cross-modal embedder such as CLIP (see the README for its weights)", b.text, b.model, ErrNoTextTower)
		}
		vs, err := te.EmbedTexts([]string{b.text})
		if err != nil {
			return nil, fmt.Errorf("mlkit: embedding the query %q: %w", b.text, err)
		}
		q, desc = vs[0], fmt.Sprintf("text:%q", b.text)
	} else {
		var vs [][]float32
		var parts []string
		for _, id := range b.like {
			v := emb.Vector(id)
			if v == nil {
				return nil, fmt.Errorf("mlkit: search: example input %d is not in the app (removed?)", id)
			}
			vs = append(vs, v)
			parts = append(parts, fmt.Sprint(id))
		}
		q, desc = search.Mean(vs), "like:"+strings.Join(parts, ",")
	}
	res := &Results{app: b.app, Query: desc, Model: b.model}
	if err := res.loadContext(); err != nil {
		return nil, err
	}
	keep, err := b.filter(res)
	if err != nil {
		return nil, err
	}
	if res.Hits, err = emb.Index.Rank(q, keep); err != nil {
		return nil, fmt.Errorf("mlkit: search: %w", err)
	}
	return res, nil
}

func (r *Results) loadContext() error {
	ctx := context.Background()
	inputs, err := r.app.st.Inputs(ctx, store.InputFilter{})
	if err != nil {
		return fmt.Errorf("mlkit: search: %w", err)
	}
	r.inputs = make(map[int64]store.Input, len(inputs))
	for _, in := range inputs {
		r.inputs[in.ID] = in
	}
	labels, err := r.app.st.ActiveLabels(ctx)
	if err != nil {
		return fmt.Errorf("mlkit: search: %w", err)
	}
	r.labels = map[int64][]string{}
	for _, l := range labels {
		r.labels[l.InputID] = append(r.labels[l.InputID], l.Concept)
	}
	return nil
}

func (b *SearchBuilder) filter(r *Results) (func(int64) bool, error) {
	var inSplit map[int64]bool
	if b.dataset != "" {
		_, members, err := b.app.versionMembers(b.dataset)
		if err != nil {
			return nil, fmt.Errorf("mlkit: search: %w", err)
		}
		inSplit = map[int64]bool{}
		for _, m := range members {
			if m.Split == b.split {
				inSplit[m.InputID] = true
			}
		}
	}
	return func(id int64) bool {
		if _, ok := r.inputs[id]; !ok {
			return false
		}
		if b.unlabelled && len(r.labels[id]) > 0 {
			return false
		}
		if b.concept != "" && !contains(r.labels[id], b.concept) {
			return false
		}
		return inSplit == nil || inSplit[id]
	}, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Len is the number of ranked inputs.
func (r *Results) Len() int { return len(r.Hits) }

// Input returns the stored input behind a hit.
func (r *Results) Input(h search.Hit) store.Input { return r.inputs[h.ID] }

// Labels returns the current labels of an input (as of the search).
func (r *Results) Labels(id int64) []string { return r.labels[id] }

// Gallery renders hits as a paged gallery: position, file name, current label and score.
func (r *Results) Gallery(hits []search.Hit) *view.GalleryView {
	g := view.Gallery().Columns(8).PageSize(48).ThumbSize(112)
	for _, h := range hits {
		in := r.inputs[h.ID]
		g.Add(view.Item{ID: fmt.Sprint(h.ID), Image: r.app.st.ThumbPath(in.SHA256),
			Caption: fmt.Sprintf("#%d %s", h.Rank, in.FileName), Label: strings.Join(r.labels[h.ID], ","),
			Score: float64(h.Score), Badge: fmt.Sprint(h.Rank)})
	}
	return g
}

// Show displays the ranking's first page inline (or writes it to a file outside a notebook).
func (r *Results) Show() error { return r.ShowPage(0) }

// ShowPage displays one page (0-based) of the ranking.
func (r *Results) ShowPage(page int) error {
	_, err := r.Gallery(r.Hits).Title(fmt.Sprintf("%s — %s (%s)", r.Query, view.Count(len(r.Hits), "result"), r.Model)).Page(page).Show()
	return err
}

// Bottom returns the n lowest-ranked results, worst match first (all of them when n is negative or
// larger than the ranking): page the ranking from the bottom with it.
func (r *Results) Bottom(n int) []search.Hit { return search.Bottom(r.Hits, n) }

// ShowBottom displays the n lowest-ranked results, worst match first.
func (r *Results) ShowBottom(n int) error {
	hits := r.Bottom(n)
	_, err := r.Gallery(hits).Title(fmt.Sprintf("%s — the %d worst of %s (%s)", r.Query, len(hits), view.Count(len(r.Hits), "result"), r.Model)).Show()
	return err
}

// Select starts an editable selection of the ranking (then Top / Above / Unselect / LabelAs).
func (r *Results) Select() *Selection {
	return &Selection{Selection: search.NewSelection(r.Query, r.Hits), results: r}
}

// Selection is what a user means to label from a search: edit it, review its bottom, then LabelAs.
type Selection struct {
	*search.Selection
	results *Results
}

// Top keeps the first n results.
func (s *Selection) Top(n int) *Selection { s.Selection.Top(n); return s }

// Above keeps results scoring at least min.
func (s *Selection) Above(min float32) *Selection { s.Selection.Above(min); return s }

// Show displays the current selection, best first, numbered by position (what Unselect takes).
func (s *Selection) Show() error {
	hits := s.Hits()
	g := s.results.Gallery(nil).Title(fmt.Sprintf("selection of %d for %s (numbers are positions)", len(hits), s.Query))
	for i, h := range hits {
		in := s.results.inputs[h.ID]
		g.Add(view.Item{ID: fmt.Sprint(h.ID), Image: s.results.app.st.ThumbPath(in.SHA256),
			Caption: fmt.Sprintf("%d: %s", i, in.FileName), Label: strings.Join(s.results.labels[h.ID], ","),
			Score: float64(h.Score), Badge: fmt.Sprint(i)})
	}
	_, err := g.PageSize(max(len(hits), 1)).Show()
	return err
}

// ShowBottom displays the n least likely selected results, worst first: review them before labelling.
func (s *Selection) ShowBottom(n int) error {
	hits := s.Bottom(n)
	_, err := s.results.Gallery(hits).Title(fmt.Sprintf("the %d least likely of %d selected for %s", len(hits), s.Len(), s.Query)).Show()
	return err
}

// LabelAs labels every selected input with concept, recording the search query as the labels' source so
// they can be audited or undone. It returns how many labels were added.
func (s *Selection) LabelAs(concept string) (int, error) {
	return s.results.app.LabelFromSearch(concept, s.Query, s.IDs()...)
}

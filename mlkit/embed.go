package mlkit

import (
	"context"
	"fmt"
	"image"
	"sort"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/search"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// DefaultEmbedder is the image embedder the tutorial uses: ImageNet MobileNetV2 (alpha 0.35), the base
// model of Teachable Machine, giving 1280-d vectors.
const DefaultEmbedder = embed.MobileNetV2035

// Embeddings is one model's vectors for the app's active inputs, read from the app's cache.
type Embeddings struct {
	// Model is the embedder's registry name.
	Model string
	// IDs and Vectors are parallel: Vectors[i] embeds input IDs[i]. Vectors are as the model returns
	// them (not normalised); Index holds normalised copies for search.
	IDs     []int64
	Vectors [][]float32
	// Index ranks inputs by cosine similarity.
	Index *search.Index
	// Computed counts the vectors computed by this call (0 when everything was cached).
	Computed int
}

// Vector returns the vector of one input (nil when it has none).
func (e *Embeddings) Vector(id int64) []float32 {
	i := sort.Search(len(e.IDs), func(i int) bool { return e.IDs[i] >= id })
	if i < len(e.IDs) && e.IDs[i] == id {
		return e.Vectors[i]
	}
	return nil
}

// embedBatch is how many images are decoded, embedded and saved together: an interrupted run keeps
// every finished batch.
const embedBatch = 64

// EmbedOption adjusts App.Embed.
type EmbedOption func(*embedOptions)

type embedOptions struct{ embed embed.Options }

// EmbedWith sets the embedder's options: weights folder, batch size, backend (default embed.NewOptions()).
func EmbedWith(o embed.Options) EmbedOption { return func(e *embedOptions) { e.embed = o } }

// Embed makes sure every active input has a cached vector from the named embedder (computing only the
// missing ones, in batches, with a progress line) and returns all of them. Later cells reuse the cache.
func (a *App) Embed(model string, opts ...EmbedOption) (*Embeddings, error) {
	o := embedOptions{embed: embed.NewOptions()}
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	inputs, err := a.st.Inputs(ctx, store.InputFilter{})
	if err != nil {
		return nil, fmt.Errorf("mlkit: embedding with %s: %w", model, err)
	}
	cached, err := a.st.Embeddings(ctx, model, nil)
	if err != nil {
		return nil, fmt.Errorf("mlkit: embedding with %s: %w", model, err)
	}
	var missing []store.Input
	for _, in := range inputs {
		if _, ok := cached[in.ID]; !ok {
			missing = append(missing, in)
		}
	}
	computed := 0
	if len(missing) > 0 {
		em, err := zoo.Embedder(model, o.embed)
		if err != nil {
			return nil, fmt.Errorf("mlkit: %w", err)
		}
		prog := view.NewProgress(len(missing)).Title("embedding with " + model).Unit("img")
		for start := 0; start < len(missing); start += embedBatch {
			batch := missing[start:min(start+embedBatch, len(missing))]
			ids, vecs, err := a.embedInputs(em, batch)
			if err != nil {
				prog.Message("failed").Done()
				return nil, err
			}
			if err := a.st.Tx(ctx, func(tx *store.Tx) error { return tx.PutEmbeddings(ctx, model, ids, vecs) }); err != nil {
				prog.Message("failed").Done()
				return nil, fmt.Errorf("mlkit: saving %s embeddings: %w", model, err)
			}
			for i, id := range ids {
				cached[id] = vecs[i]
			}
			computed += len(ids)
			prog.Add(len(batch))
		}
		prog.Done()
	}
	e := &Embeddings{Model: model, Computed: computed}
	for _, in := range inputs {
		if v, ok := cached[in.ID]; ok {
			e.IDs = append(e.IDs, in.ID)
			e.Vectors = append(e.Vectors, v)
		}
	}
	sortByID(e)
	if e.Index, err = search.NewIndex(e.IDs, e.Vectors); err != nil {
		return nil, fmt.Errorf("mlkit: indexing %s embeddings: %w", model, err)
	}
	return e, nil
}

// embedInputs decodes a batch (EXIF orientation applied) and embeds it. An image that can no longer be
// decoded is an error naming it: uploads validated it, so this means the store was damaged.
func (a *App) embedInputs(em embed.Embedder, batch []store.Input) ([]int64, [][]float32, error) {
	ids := make([]int64, len(batch))
	imgs := make([]image.Image, len(batch))
	for i, in := range batch {
		img, err := a.Image(in)
		if err != nil {
			return nil, nil, fmt.Errorf("mlkit: decoding input %d (%s) for embedding: %w", in.ID, in.FileName, err)
		}
		ids[i], imgs[i] = in.ID, img
	}
	vecs, err := em.EmbedImages(imgs)
	if err != nil {
		return nil, nil, fmt.Errorf("mlkit: embedding %d images with %s: %w", len(batch), em.Name(), err)
	}
	return ids, vecs, nil
}

func sortByID(e *Embeddings) {
	idx := make([]int, len(e.IDs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(x, y int) bool { return e.IDs[idx[x]] < e.IDs[idx[y]] })
	ids := make([]int64, len(idx))
	vecs := make([][]float32, len(idx))
	for i, j := range idx {
		ids[i], vecs[i] = e.IDs[j], e.Vectors[j]
	}
	e.IDs, e.Vectors = ids, vecs
}

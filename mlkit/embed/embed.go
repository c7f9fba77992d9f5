// Package embed turns images (and, for cross-modal models, texts) into fixed-size feature vectors. Every
// model implements Embedder and is created by a Factory (NewMobileNetV2, NewCLIP). The models are named
// in the one model registry, package mlkit/models/zoo, so notebooks pick a model by name:
//
//	e, err := zoo.Embedder("mobilenet_v2_035", embed.NewOptions().Normalized())
//	vecs, err := e.EmbedImages(imgs) // [][]float32, one e.Dim()-vector per image
//
// Embedders batch their inputs with a fixed batch shape (the last batch is padded) so the compiled graph
// is reused, optionally L2-normalise the outputs, and report progress for long runs.
package embed

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/visionnb/visionnb/mlkit/internal/vecmath"
)

// Embedder maps images to vectors of Dim() float32 values.
type Embedder interface {
	// Name identifies the model and its weights, e.g. "mobilenet_v2_035" (its registry name in package zoo).
	Name() string
	// Dim is the length of every vector returned.
	Dim() int
	// EmbedImages returns one vector per image, in order.
	EmbedImages(imgs []image.Image) ([][]float32, error)
}

// TextEmbedder is implemented by cross-modal models (e.g. CLIP) whose texts share the image vector space.
type TextEmbedder interface {
	Embedder
	// EmbedTexts returns one vector per text, in order, comparable with EmbedImages' vectors.
	EmbedTexts(texts []string) ([][]float32, error)
}

// DefaultBatchSize is the batch used when Options.BatchSize is 0.
const DefaultBatchSize = 32

// Options configures an embedder. Build it with NewOptions and the fluent setters; factories ignore the
// fields that do not apply to them.
type Options struct {
	// Dir is a local folder holding the model's weights; empty means the model's default search
	// (for MobileNetV2: ../shared, then the download cache).
	Dir string
	// BatchSize is the fixed batch size of the compiled graph (0 = DefaultBatchSize).
	BatchSize int
	// Normalize L2-normalises every output vector.
	Normalize bool
	// Progress, when set, is called after each batch with the number of inputs done and the total.
	Progress func(done, total int)
	// Backend runs the model; nil means backend.Default().
	Backend backends.Backend
	// Width is the model's width multiplier where it has one (MobileNetV2 alpha); 0 = the model's default.
	Width float64
	// Size is the input resolution in pixels; 0 = the model's default (224 for MobileNetV2).
	Size int
	// Offline forbids downloading weights (so does $MLKIT_OFFLINE).
	Offline bool
}

// NewOptions returns the default options: weights found automatically, batch 32, raw (unnormalised)
// vectors, the default backend.
func NewOptions() Options { return Options{} }

// WithDir sets the local weights folder.
func (o Options) WithDir(dir string) Options { o.Dir = dir; return o }

// WithBatchSize sets the fixed batch size.
func (o Options) WithBatchSize(n int) Options { o.BatchSize = n; return o }

// Normalized asks for L2-normalised vectors.
func (o Options) Normalized() Options { o.Normalize = true; return o }

// WithProgress sets the progress callback.
func (o Options) WithProgress(fn func(done, total int)) Options { o.Progress = fn; return o }

// WithBackend sets the GoMLX backend.
func (o Options) WithBackend(b backends.Backend) Options { o.Backend = b; return o }

// WithWidth sets the width multiplier.
func (o Options) WithWidth(w float64) Options { o.Width = w; return o }

// WithSize sets the input resolution.
func (o Options) WithSize(px int) Options { o.Size = px; return o }

// WithOffline forbids (true) or allows (false) downloading weights.
func (o Options) WithOffline(v bool) Options { o.Offline = v; return o }

func (o Options) batchSize() int {
	if o.BatchSize > 0 {
		return o.BatchSize
	}
	return DefaultBatchSize
}

// Factory creates an embedder from options: what a registered model's zoo.Spec.Embedder holds.
type Factory func(opts Options) (Embedder, error)

// Batches calls fn on consecutive ranges [start, end) of at most size of the n inputs, in order, and
// reports progress after each. It stops at the first error.
func Batches(n, size int, progress func(done, total int), fn func(start, end int) error) error {
	if size <= 0 {
		return errors.New("embed: batch size must be positive")
	}
	for start := 0; start < n; start += size {
		end := min(start+size, n)
		if err := fn(start, end); err != nil {
			return fmt.Errorf("embed: batch of inputs %d..%d: %w", start, end-1, err)
		}
		if progress != nil {
			progress(end, n)
		}
	}
	return nil
}

// L2Normalize scales v in place to unit Euclidean length (a zero vector stays zero).
func L2Normalize(v []float32) { vecmath.Normalize(v) }

// Cosine returns the cosine similarity of two vectors of equal length (0 when either is zero).
func Cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// splitRows cuts a flat [rows*dim] slice into rows vectors (copies, so callers may keep them).
func splitRows(flat []float32, rows, dim int) [][]float32 {
	out := make([][]float32, rows)
	for i := range out {
		out[i] = slices.Clone(flat[i*dim : (i+1)*dim])
	}
	return out
}

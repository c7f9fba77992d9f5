// Package search ranks inputs by how well their cached embeddings match a query: a text (through a
// cross-modal embedder's text tower) or one or more example images (any embedder). It also turns a
// ranking into a selection a user edits before labelling (top N, above a score, unselect by position or
// id, review the bottom), and proposes zero-shot labels from concept prompts.
//
// The package is pure computation over vectors and ids; the mlkit facade wires it to the store.
package search

import (
	"container/heap"
	"fmt"
	"runtime"
	"sync"

	"github.com/visionnb/visionnb/mlkit/internal/vecmath"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Index holds L2-normalised embeddings of many inputs in one row-major matrix, so a query is a single
// matrix-vector product.
type Index struct {
	ids  []int64
	dim  int
	data []float32 // len(ids) * dim, each row unit length (or zero)
}

// NewIndex builds an index from ids and their vectors; vectors are copied and L2-normalised.
func NewIndex(ids []int64, vectors [][]float32) (*Index, error) {
	if len(ids) != len(vectors) {
		return nil, fmt.Errorf("search: %d ids but %d vectors", len(ids), len(vectors))
	}
	ix := &Index{ids: append([]int64(nil), ids...)}
	if len(vectors) == 0 {
		return ix, nil
	}
	ix.dim = len(vectors[0])
	ix.data = make([]float32, len(vectors)*ix.dim)
	for i, v := range vectors {
		if len(v) != ix.dim {
			return nil, fmt.Errorf("search: vector of input %d has dimension %d, want %d", ids[i], len(v), ix.dim)
		}
		row := ix.data[i*ix.dim : (i+1)*ix.dim]
		copy(row, v)
		Normalize(row)
	}
	return ix, nil
}

// Len is the number of indexed inputs; Dim the embedding dimension.
func (ix *Index) Len() int { return len(ix.ids) }

// Dim is the embedding dimension (0 for an empty index).
func (ix *Index) Dim() int { return ix.dim }

// IDs returns the indexed input ids in row order (do not modify).
func (ix *Index) IDs() []int64 { return ix.ids }

// Row returns the normalised vector of row i (do not modify).
func (ix *Index) Row(i int) []float32 { return ix.data[i*ix.dim : (i+1)*ix.dim] }

// Normalize scales v to unit L2 norm in place (a zero vector stays zero).
func Normalize(v []float32) { vecmath.Normalize(v) }

// Mean returns the normalised mean of several vectors: the query for "images like these".
func Mean(vectors [][]float32) []float32 {
	if len(vectors) == 0 {
		return nil
	}
	out := make([]float32, len(vectors[0]))
	for _, v := range vectors {
		w := append([]float32(nil), v...)
		Normalize(w)
		for i := range out {
			out[i] += w[i]
		}
	}
	Normalize(out)
	return out
}

// Scores returns the cosine similarity of every indexed input with the query, in row order. The work
// is split over the available cores and uses gonum's assembly matrix-vector kernel.
func (ix *Index) Scores(query []float32) ([]float32, error) {
	if len(ix.ids) == 0 {
		return nil, nil
	}
	if len(query) != ix.dim {
		return nil, fmt.Errorf("search: query has dimension %d, index has %d (embeddings from another model?)", len(query), ix.dim)
	}
	q := append([]float32(nil), query...)
	Normalize(q)
	n := len(ix.ids)
	out := make([]float32, n)
	workers := runtime.GOMAXPROCS(0)
	if n < 4096 {
		workers = 1
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			a := blas32.General{Rows: hi - lo, Cols: ix.dim, Stride: ix.dim, Data: ix.data[lo*ix.dim : hi*ix.dim]}
			blas32.Gemv(blas.NoTrans, 1, a, blas32.Vector{N: ix.dim, Inc: 1, Data: q}, 0,
				blas32.Vector{N: hi - lo, Inc: 1, Data: out[lo:hi]})
		}(lo, hi)
	}
	wg.Wait()
	return out, nil
}

// Hit is one ranked input.
type Hit struct {
	// Rank is the 0-based position in the full ranking.
	Rank  int
	ID    int64
	Score float32
}

// Rank returns every input whose row passes keep (nil keeps all), best match first. Use Top for a
// partial ranking of a large index.
func (ix *Index) Rank(query []float32, keep func(id int64) bool) ([]Hit, error) {
	return ix.Top(query, -1, keep)
}

// Top returns the k best matches (k < 0: all), best first, among the inputs keep accepts.
func (ix *Index) Top(query []float32, k int, keep func(id int64) bool) ([]Hit, error) {
	scores, err := ix.Scores(query)
	if err != nil {
		return nil, err
	}
	h := &hitHeap{}
	for i, s := range scores {
		id := ix.ids[i]
		if keep != nil && !keep(id) {
			continue
		}
		if k < 0 || h.Len() < k {
			heap.Push(h, Hit{ID: id, Score: s})
		} else if k > 0 && better(Hit{ID: id, Score: s}, (*h)[0]) {
			(*h)[0] = Hit{ID: id, Score: s}
			heap.Fix(h, 0)
		}
	}
	out := make([]Hit, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(Hit)
	}
	for i := range out {
		out[i].Rank = i
	}
	return out, nil
}

// better orders hits by score, ties broken by the smaller id so rankings are deterministic.
func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.ID < b.ID
}

// hitHeap is a min-heap on "better": its root is the worst kept hit.
type hitHeap []Hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

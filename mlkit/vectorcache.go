package mlkit

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/visionnb/visionnb/mlkit/internal/atomicfile"
	"github.com/visionnb/visionnb/mlkit/store"
)

// vectorCache keeps one embedder's vectors of image files on disk, keyed by the SHA-256 of the file's
// bytes: <root>/<embedder>/<sha[:2]>/<sha>.f32, little-endian float32 (store.EncodeVector). Predictions
// on folders use it (the app's own inputs are cached in the store, by input id). A zero vectorCache
// caches nothing. Writes are atomic (temporary file, rename); a damaged entry is a miss.
type vectorCache struct {
	dir string
	dim int
}

func newVectorCache(root, embedder string, dim int) vectorCache {
	if root == "" || embedder == "" || dim <= 0 {
		return vectorCache{}
	}
	return vectorCache{dir: filepath.Join(root, safeName(embedder)), dim: dim}
}

func (c vectorCache) path(sha string) string {
	return filepath.Join(c.dir, sha[:2], sha+".f32")
}

// get returns the cached vector of the content with this SHA-256, or nil.
func (c vectorCache) get(sha string) []float32 {
	if c.dir == "" || len(sha) != 64 {
		return nil
	}
	raw, err := os.ReadFile(c.path(sha))
	if err != nil || len(raw) != 4*c.dim {
		return nil
	}
	v, err := store.DecodeVector(raw)
	if err != nil {
		return nil
	}
	return v
}

// put saves a vector. A cache that cannot be written only costs speed, so errors are returned for
// callers that care and ignored by predictions.
func (c vectorCache) put(sha string, v []float32) error {
	if c.dir == "" || len(sha) != 64 || len(v) != c.dim {
		return nil
	}
	if err := atomicfile.WriteFile(c.path(sha), store.EncodeVector(v), 0o644); err != nil {
		return fmt.Errorf("mlkit: embedding cache: %w", err)
	}
	return nil
}

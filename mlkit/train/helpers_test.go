package train

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/visionnb/visionnb/mlkit/backend"
)

var (
	testBackendOnce sync.Once
	testBackendVal  backends.Backend
	testBackendErr  error
)

// testBackend returns backend.Default(), except that the stock pure-Go backend is replaced by its
// sequential-ops mode (its parallel mode can deadlock on graphs with several independent DotGenerals).
func testBackend(t testing.TB) backends.Backend {
	t.Helper()
	testBackendOnce.Do(func() {
		b, info, err := backend.Default()
		if err != nil {
			testBackendErr = err
			return
		}
		if info.Name == "go" {
			b, err = backends.NewWithConfig("go:ops_sequential")
		}
		testBackendVal, testBackendErr = b, err
	})
	if testBackendErr != nil {
		t.Fatalf("no backend: %v", testBackendErr)
	}
	return testBackendVal
}

// blobs returns n embeddings of dim values around one random centre per class (separable when spread is
// small compared with the distance between centres).
func blobs(seed uint64, n, dim, classes int, spread float64) []Embedded {
	r := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float32, classes)
	cr := rand.New(rand.NewPCG(42, 42)) // Same centres for every split.
	for c := range centres {
		centres[c] = make([]float32, dim)
		for j := range centres[c] {
			centres[c][j] = float32(cr.NormFloat64())
		}
	}
	out := make([]Embedded, n)
	for i := range out {
		c := i % classes
		v := make([]float32, dim)
		for j := range v {
			v[j] = centres[c][j] + float32(spread*r.NormFloat64())
		}
		out[i] = Embedded{ID: int64(i), Vector: v, Label: c}
	}
	return out
}

func classNames(n int) []string {
	all := []string{"butterfly", "dog", "elephant", "horse", "sheep", "cat", "cow"}
	return all[:n]
}

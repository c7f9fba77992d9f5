package purego

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestDirectGemmMatchesReference runs DotGenerals whose operands are batches of matrices in every order
// the direct path takes ([M][K] or [K][M] on the left, [K][N] or [N][K] on the right), with batch axes,
// two contracting axes, sizes the tiles do not divide, long contractions (several gemmKC blocks) and
// products large enough to split over the cores, on each SIMD kernel this CPU runs, against float64
// arithmetic; and checks that the direct path computed each of them.
func TestDirectGemmMatchesReference(t *testing.T) {
	if !directGemmInstalled {
		t.Fatal("installDirectGemm did not find simplego's DotGeneral executor")
	}
	kernels := KernelsForTest()[1:]
	if len(kernels) == 0 {
		t.Skip("this CPU runs no SIMD kernel: simplego computes every product")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	be := newTestBackend(t)
	type tc struct {
		batch, m, n, k int
		aT, bT         bool
		splitK         bool // contract over two axes (K = 2 x k/2)
	}
	cases := []tc{
		{0, 8, 32, 16, false, false, false},
		{0, 64, 64, 64, false, true, false},
		{0, 13, 37, 300, false, false, false}, // edges, two K blocks
		{0, 13, 37, 300, true, false, false},
		{0, 13, 37, 300, false, true, false},
		{0, 13, 37, 300, true, true, false},
		{3, 9, 17, 33, false, false, false}, // batched
		{2, 9, 17, 34, true, true, true},    // batched, two contracting axes
		{0, 256, 96, 600, false, false, false},
		{0, 5, 5, 2048, false, false, false}, // a classifier head: one strip, one row tile
		{0, 1, 1, 3, true, true, false},
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, kernel := range kernels {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%+v", kernel, c), func(t *testing.T) {
				defer UseKernelForTest(kernel)()
				nb := max(c.batch, 1)
				// Logical A[b][i][p], B[b][p][j]; stored in the order the case asks for.
				A := make([]float64, nb*c.m*c.k)
				B := make([]float64, nb*c.k*c.n)
				for i := range A {
					A[i] = float64(float32(r.NormFloat64()))
				}
				for i := range B {
					B[i] = float64(float32(r.NormFloat64()))
				}
				kd := []int{c.k}
				if c.splitK {
					kd = []int{2, c.k / 2}
				}
				var bdims []int
				if c.batch > 0 {
					bdims = []int{c.batch}
				}
				af := make([]float32, len(A))
				for b := range nb {
					for i := range c.m {
						for p := range c.k {
							idx := b*c.m*c.k + i*c.k + p // [M][K]
							if c.aT {
								idx = b*c.m*c.k + p*c.m + i // [K][M]
							}
							af[idx] = float32(A[b*c.m*c.k+i*c.k+p])
						}
					}
				}
				bf := make([]float32, len(B))
				for b := range nb {
					for p := range c.k {
						for j := range c.n {
							idx := b*c.k*c.n + p*c.n + j // [K][N]
							if c.bT {
								idx = b*c.k*c.n + j*c.k + p // [N][K]
							}
							bf[idx] = float32(B[b*c.k*c.n+p*c.n+j])
						}
					}
				}
				dimsOf := func(first, second []int) []int {
					return append(append(append([]int{}, bdims...), first...), second...)
				}
				ad, bd := dimsOf([]int{c.m}, kd), dimsOf(kd, []int{c.n})
				if c.aT {
					ad = dimsOf(kd, []int{c.m})
				}
				if c.bT {
					bd = dimsOf([]int{c.n}, kd)
				}
				at := tensors.FromFlatDataAndDimensions(af, ad...)
				bt := tensors.FromFlatDataAndDimensions(bf, bd...)
				nbat := len(bdims)
				axes := func(from, n int) []int {
					out := make([]int, n)
					for i := range out {
						out[i] = from + i
					}
					return out
				}
				lhsK, rhsK := axes(nbat+1, len(kd)), axes(nbat, len(kd))
				if c.aT {
					lhsK = axes(nbat, len(kd))
				}
				if c.bT {
					rhsK = axes(nbat+1, len(kd))
				}
				runs := directGemmRuns.Load()
				got := tensors.MustCopyFlatData[float32](MustExecOnce(be, func(a, b *Node) *Node {
					return DotGeneral(a, lhsK, axes(0, nbat), b, rhsK, axes(0, nbat))
				}, at, bt))
				if directGemmRuns.Load() == runs {
					t.Fatal("the product did not go through directGemm")
				}
				if len(got) != nb*c.m*c.n {
					t.Fatalf("%d outputs, want %d", len(got), nb*c.m*c.n)
				}
				for b := range nb {
					for i := range c.m {
						for j := range c.n {
							want, mag := 0.0, 0.0
							for p := range c.k {
								x := A[b*c.m*c.k+i*c.k+p] * B[b*c.k*c.n+p*c.n+j]
								want += x
								mag += math.Abs(x)
							}
							g := float64(got[b*c.m*c.n+i*c.n+j])
							if math.Abs(g-want) > 1e-5*(mag+1) {
								t.Fatalf("C[%d][%d][%d] = %v, float64 %v", b, i, j, g, want)
							}
						}
					}
				}
			})
		}
	}
}

package purego_test

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"golang.org/x/sys/cpu"

	"github.com/visionnb/visionnb/mlkit/backend/purego"
)

// TestFloat32MatrixProducts checks float32 DotGeneral on the mlkitgo backend (simplego's blocked path with
// each block kernel this CPU runs: simplego's, AVX2, AVX-512) against float64 arithmetic, for shapes that
// are and are not multiples of the block (32) and tile sizes (4x16, 8x32), with batch axes and with
// contracting axes in every position.
func TestFloat32MatrixProducts(t *testing.T) {
	if runtime.GOARCH == "amd64" && cpu.X86.HasAVX2 && cpu.X86.HasFMA && os.Getenv(purego.SIMDEnv) != "0" && !purego.SIMDKernelInstalled() {
		t.Fatal("this CPU has AVX2 and FMA but the SIMD block kernel was not installed")
	}
	if runtime.GOARCH == "amd64" && cpu.X86.HasAVX512F && os.Getenv(purego.SIMDEnv) == "" && purego.SIMDKernel() != "avx512" {
		t.Fatalf("this CPU has AVX-512F but the default block kernel is %q", purego.SIMDKernel())
	}
	for _, kernel := range purego.KernelsForTest() {
		t.Run(kernel, func(t *testing.T) {
			defer purego.UseKernelForTest(kernel)()
			checkFloat32MatrixProducts(t)
		})
	}
}

func checkFloat32MatrixProducts(t *testing.T) {
	be, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	rng := rand.New(rand.NewPCG(1, 2))
	randT := func(dims ...int) (*tensors.Tensor, []float32) {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(v, dims...), v
	}
	// Three operand layouts: contracting axis first ([batch, k, m] x [batch, k, n], packed by transposing),
	// contracting axis last ([batch, m, k] x [batch, n, k], packed by copying rows), and a batch axis that
	// does not lead ([batch, m, k] x [n, batch, k]: simplego's own packing).
	layouts := []struct {
		name           string
		lhsDims        func(b, m, k int) []int
		rhsDims        func(b, k, n int) []int
		lhsAt, rhsAt   func(b, i, p, j int, c [4]int) int // flat index of lhs[b,i,p] / rhs[b,p,j]
		lc, lb, rc, rb []int
	}{
		{"contracting-first", func(b, m, k int) []int { return []int{b, k, m} }, func(b, k, n int) []int { return []int{b, k, n} },
			func(b, i, p, _ int, c [4]int) int { return (b*c[2]+p)*c[1] + i },
			func(b, _, p, j int, c [4]int) int { return (b*c[2]+p)*c[3] + j },
			[]int{1}, []int{0}, []int{1}, []int{0}},
		{"contracting-last", func(b, m, k int) []int { return []int{b, m, k} }, func(b, k, n int) []int { return []int{b, n, k} },
			func(b, i, p, _ int, c [4]int) int { return (b*c[1]+i)*c[2] + p },
			func(b, _, p, j int, c [4]int) int { return (b*c[3]+j)*c[2] + p },
			[]int{2}, []int{0}, []int{2}, []int{0}},
		{"batch-not-leading", func(b, m, k int) []int { return []int{b, m, k} }, func(b, k, n int) []int { return []int{n, b, k} },
			func(b, i, p, _ int, c [4]int) int { return (b*c[1]+i)*c[2] + p },
			func(b, _, p, j int, c [4]int) int { return (j*c[0]+b)*c[2] + p },
			[]int{2}, []int{0}, []int{2}, []int{1}},
	}
	for _, l := range layouts {
		for _, c := range []struct{ batch, m, k, n int }{
			{1, 300, 70, 130}, {1, 256, 64, 256}, {1, 1000, 3, 40}, {3, 129, 33, 200}, {1, 4, 500, 4}, {1, 2000, 576, 64}, {2, 8, 8, 8},
			{1, 1, 1, 1}, {1, 31, 97, 33}, {2, 65, 31, 95}, {1, 7, 257, 9}, {1, 96, 64, 160},
		} {
			lhs, lv := randT(l.lhsDims(c.batch, c.m, c.k)...)
			rhs, rv := randT(l.rhsDims(c.batch, c.k, c.n)...)
			e := MustNewExec(be, func(a, b *Node) *Node { return DotGeneral(a, l.lc, l.lb, b, l.rc, l.rb) })
			got := tensors.MustCopyFlatData[float32](e.MustExec(lhs, rhs)[0])
			if len(got) != c.batch*c.m*c.n {
				t.Fatalf("%s %+v: got %d values, want %d", l.name, c, len(got), c.batch*c.m*c.n)
			}
			dims := [4]int{c.batch, c.m, c.k, c.n}
			worst := 0.0
			for b := range c.batch {
				for i := range c.m {
					for j := range c.n {
						s, mag := 0.0, 0.0
						for p := range c.k {
							x := float64(lv[l.lhsAt(b, i, p, j, dims)]) * float64(rv[l.rhsAt(b, i, p, j, dims)])
							s += x
							mag += math.Abs(x)
						}
						worst = max(worst, math.Abs(float64(got[(b*c.m+i)*c.n+j])-s)/(mag+1e-6))
					}
				}
			}
			if worst > 1e-5 {
				t.Errorf("%s %+v: worst error relative to the sum of |terms| is %g", l.name, c, worst)
			}
		}
	}
}

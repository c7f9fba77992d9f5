package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/visionnb/visionnb/mlkit/backend"
)

// gradCases adds to dwCases the paddings the transposed-convolution bookkeeping in depthwiseGradients
// must get right: padding larger than kernel-1 (the first input rows reach no tap's centre), a strided
// "valid" convolution whose last input rows are never read, and asymmetric padding.
var gradCases = append(append([]dwCase{}, dwCases...),
	dwCase{h: 5, w: 6, c: 2, k: 3, m: 1, stride: 1, pad: [2][2]int{{3, 0}, {0, 4}}},
	dwCase{h: 8, w: 7, c: 3, k: 3, m: 1, stride: 2},
	dwCase{h: 6, w: 6, c: 2, k: 5, m: 3, stride: 3, pad: [2][2]int{{1, 2}, {2, 1}}},
	dwCase{h: 8, w: 8, c: 3, k: 5, m: 1, stride: 2, pad: [2][2]int{{2, 2}, {2, 2}}}, // EfficientNet's strided 5x5
)

// eachGradBackend runs fn on every backend this machine has (mlkit's pure-Go one always, XLA when installed).
func eachGradBackend(t *testing.T, fn func(t *testing.T, b backends.Backend)) {
	for _, name := range backend.Available() {
		t.Run(name, func(t *testing.T) {
			b, err := backend.Named(name)
			if err != nil {
				t.Fatalf("backend %s: %v", name, err)
			}
			fn(t, b)
		})
	}
}

func (tc dwCase) padding() [2][2]int {
	if tc.same {
		return [2][2]int{SamePadding(tc.h, tc.k, tc.stride), SamePadding(tc.w, tc.k, tc.stride)}
	}
	return tc.pad
}

// TestDepthwiseGradientFiniteDifferences checks the depthwise convolution's own gradient (depthwiseGradients)
// in float64 on every backend against central finite differences of the textbook loop: the loss is
// sum(depthwise(x, k) * r) for a fixed random r, and every element of x and k is perturbed.
func TestDepthwiseGradientFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	eachGradBackend(t, func(t *testing.T, be backends.Backend) {
		for _, tc := range gradCases {
			t.Run(fmt.Sprintf("%dx%dx%d_k%d_m%d_s%d_pad%v", tc.h, tc.w, tc.c, tc.k, tc.m, tc.stride, tc.padding()), func(t *testing.T) {
				const batch = 2
				pad := tc.padding()
				x := make([]float64, batch*tc.h*tc.w*tc.c)
				k := make([]float64, tc.k*tc.k*tc.c*tc.m)
				for i := range x {
					x[i] = r.NormFloat64()
				}
				for i := range k {
					k[i] = r.NormFloat64()
				}
				y, dims := directDepthwise(x, batch, tc.h, tc.w, tc.c, k, tc.k, tc.k, tc.m, tc.stride, pad)
				weights := make([]float64, len(y))
				for i := range weights {
					weights[i] = r.NormFloat64()
				}
				loss := func(x, k []float64) float64 {
					y, _ := directDepthwise(x, batch, tc.h, tc.w, tc.c, k, tc.k, tc.k, tc.m, tc.stride, pad)
					s := 0.0
					for i := range y {
						s += y[i] * weights[i]
					}
					return s
				}
				numeric := func(v []float64) []float64 {
					const eps = 1e-4
					d := make([]float64, len(v))
					for i := range v {
						old := v[i]
						v[i] = old + eps
						up := loss(x, k)
						v[i] = old - eps
						down := loss(x, k)
						v[i] = old
						d[i] = (up - down) / (2 * eps)
					}
					return d
				}
				wantDx, wantDk := numeric(x), numeric(k)

				exec := MustNewExec(be, func(xn, kn, rn *Node) []*Node {
					out := Depthwise(xn, kn).Strides(tc.stride).Padding(pad).Implementation(DepthwiseShifted).Done()
					return Gradient(ReduceAllSum(Mul(out, rn)), xn, kn)
				})
				got := exec.MustExec(tensors.FromFlatDataAndDimensions(x, batch, tc.h, tc.w, tc.c),
					tensors.FromFlatDataAndDimensions(k, tc.k, tc.k, tc.c, tc.m),
					tensors.FromFlatDataAndDimensions(weights, dims[:]...))
				for gi, want := range [][]float64{wantDx, wantDk} {
					g := tensors.MustCopyFlatData[float64](got[gi])
					if len(g) != len(want) {
						t.Fatalf("gradient %d has %d elements, want %d", gi, len(g), len(want))
					}
					for i := range want {
						if d := math.Abs(g[i] - want[i]); d > 1e-6*(1+math.Abs(want[i])) {
							t.Fatalf("%s gradient element %d: got %.9g, finite differences %.9g", []string{"input", "kernel"}[gi], i, g[i], want[i])
						}
					}
				}
			})
		}
	})
}

// TestDepthwiseGradientMatchesAutodiff checks, in float64 on every backend, that the custom gradient equals
// GoMLX's differentiation of the same shifted-slice graph, with a non-linear loss (so the adjoint varies),
// the output used twice, and the value unchanged.
func TestDepthwiseGradientMatchesAutodiff(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	eachGradBackend(t, func(t *testing.T, be backends.Backend) {
		for _, tc := range gradCases {
			t.Run(fmt.Sprintf("%dx%dx%d_k%d_m%d_s%d_pad%v", tc.h, tc.w, tc.c, tc.k, tc.m, tc.stride, tc.padding()), func(t *testing.T) {
				const batch = 2
				pad := tc.padding()
				build := func(byGraph bool) func(xn, kn *Node) []*Node {
					return func(xn, kn *Node) []*Node {
						impl := DepthwiseShifted
						if byGraph {
							impl = DepthwiseShiftedAutodiff
						}
						out := Depthwise(xn, kn).Strides(tc.stride).Padding(pad).Implementation(impl).Done()
						loss := Add(ReduceAllSum(Mul(Sin(out), out)), ReduceAllSum(Square(out)))
						return append([]*Node{out}, Gradient(loss, xn, kn)...)
					}
				}
				x := make([]float64, batch*tc.h*tc.w*tc.c)
				k := make([]float64, tc.k*tc.k*tc.c*tc.m)
				for i := range x {
					x[i] = r.NormFloat64()
				}
				for i := range k {
					k[i] = r.NormFloat64()
				}
				xt := tensors.FromFlatDataAndDimensions(x, batch, tc.h, tc.w, tc.c)
				kt := tensors.FromFlatDataAndDimensions(k, tc.k, tc.k, tc.c, tc.m)
				got := MustNewExec(be, build(false)).MustExec(xt, kt)
				want := MustNewExec(be, build(true)).MustExec(xt, kt)
				for i, name := range []string{"value", "input gradient", "kernel gradient"} {
					g, w := tensors.MustCopyFlatData[float64](got[i]), tensors.MustCopyFlatData[float64](want[i])
					for j := range w {
						if d := math.Abs(g[j] - w[j]); d > 1e-9*(1+math.Abs(w[j])) {
							t.Fatalf("%s element %d: custom %.12g, autodiff %.12g", name, j, g[j], w[j])
						}
					}
				}
			})
		}
	})
}

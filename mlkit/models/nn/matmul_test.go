package nn_test

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/models/nn"
)

// eachBackend runs fn on every backend this machine has (the pure-Go one always, XLA when installed).
func eachBackend(t *testing.T, fn func(t *testing.T, b backends.Backend)) {
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

func sinTensor(phase float64, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Sin(float64(i)*0.71 + phase)
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

func maxDiff(t *testing.T, got, want *tensors.Tensor) float64 {
	t.Helper()
	g, w := tensors.MustCopyFlatData[float64](got), tensors.MustCopyFlatData[float64](want)
	if len(g) != len(w) {
		t.Fatalf("sizes differ: %s vs %s", got.Shape(), want.Shape())
	}
	d := 0.0
	for i := range g {
		d = max(d, math.Abs(g[i]-w[i])/(1+math.Abs(w[i])))
	}
	return d
}

// TestMatrixProductGradient checks MatrixProduct's value and both gradients against Dot's (GoMLX's own
// differentiation, checked by finite differences in mlkit/backend), in float64, when the product is used
// twice (the adjoint is a sum) and when only one input needs a gradient.
func TestMatrixProductGradient(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backends.Backend) {
		loss := func(mm func(a, b *Node) *Node, a, w *Node) *Node {
			y := mm(a, w)
			return Add(ReduceAllSum(Mul(Sin(y), y)), ReduceAllSum(Square(y)))
		}
		grads := func(mm func(a, b *Node) *Node) func(a, w *Node) []*Node {
			return func(a, w *Node) []*Node {
				l := loss(mm, a, w)
				g := Gradient(l, a, w)
				onlyW := Gradient(loss(mm, StopGradient(a), w), w)[0]
				return []*Node{mm(a, w), g[0], g[1], onlyW}
			}
		}
		a, w := sinTensor(0, 13, 7), sinTensor(1, 7, 5)
		got := MustNewExec(b, grads(nn.MatrixProduct)).MustExec(a, w)
		want := MustNewExec(b, grads(Dot)).MustExec(a, w)
		for i, name := range []string{"value", "dA", "dB", "dB with a stopped"} {
			if d := maxDiff(t, got[i], want[i]); d > 1e-12 {
				t.Errorf("%s differs from Dot's by %g", name, d)
			}
		}
	})
}

// TestConv2DGradientMatchesConvolve checks Conv2D's gradients (im2col with MatrixProduct on small inputs
// and on the pure-Go backend, one convolution op on larger inputs on XLA) against graph.Convolve's, in
// float64, for the kernel sizes, strides and input sizes ResNet and EfficientNet use.
func TestConv2DGradientMatchesConvolve(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backends.Backend) {
		for _, c := range []struct{ size, k, stride int }{{2, 3, 1}, {4, 3, 2}, {9, 3, 1}, {10, 3, 2}, {12, 1, 2}, {12, 7, 2}, {8, 1, 1}} {
			pad := (c.k - 1) / 2
			x, k := sinTensor(0.3, 2, c.size, c.size, 3), sinTensor(0.9, c.k, c.k, 3, 4)
			run := func(conv func(ctx *context.Context, x *Node) *Node) []*tensors.Tensor {
				ctx := context.New()
				e := context.MustNewExec(b, ctx, func(ctx *context.Context, x *Node) []*Node {
					y := conv(ctx.In("conv"), x)
					w := ctx.In("conv").GetVariableByScopeAndName("/conv", nn.ParamWeight).ValueGraph(x.Graph())
					l := ReduceAllSum(Mul(Sin(y), y))
					g := Gradient(l, x, w)
					return []*Node{y, g[0], g[1]}
				})
				// Build once, then set the kernel to the same known values in both runs.
				e.MustExec(x)
				ctx.GetVariableByScopeAndName("/conv", nn.ParamWeight).MustSetValue(k)
				return e.MustExec(x)
			}
			got := run(func(ctx *context.Context, x *Node) *Node {
				return nn.Conv2D(ctx, x).Filters(4).KernelSize(c.k).Stride(c.stride).Done()
			})
			want := run(func(ctx *context.Context, x *Node) *Node {
				w := ctx.VariableWithShape(nn.ParamWeight, k.Shape()).ValueGraph(x.Graph())
				return Convolve(x, w).Strides(c.stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
			})
			for i, name := range []string{"value", "dX", "dKernel"} {
				if d := maxDiff(t, got[i], want[i]); d > 1e-10 {
					t.Errorf("size %d, %dx%d kernel, stride %d: %s differs from Convolve's by %g", c.size, c.k, c.k, c.stride, name, d)
				}
			}
		}
	})
}

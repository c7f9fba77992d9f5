package nn_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/models/nn"
)

// b0Depthwise lists EfficientNet-B0's 16 depthwise convolutions at 64 px: input height (= width), channels,
// kernel and stride.
var b0Depthwise = []struct{ hw, c, k, s int }{
	{32, 32, 3, 1},
	{32, 96, 3, 2}, {16, 144, 3, 1},
	{16, 144, 5, 2}, {8, 240, 5, 1},
	{8, 240, 3, 2}, {4, 480, 3, 1}, {4, 480, 3, 1},
	{4, 480, 5, 1}, {4, 672, 5, 1}, {4, 672, 5, 1},
	{4, 672, 5, 2}, {2, 1152, 5, 1}, {2, 1152, 5, 1}, {2, 1152, 5, 1},
	{2, 1152, 3, 1},
}

// benchLayers is how many of b0Depthwise the benchmarks run ($MLKIT_BENCH_LAYERS, default all).
var benchLayers = func() int {
	n, err := strconv.Atoi(os.Getenv("MLKIT_BENCH_LAYERS"))
	if err != nil || n <= 0 || n > len(b0Depthwise) {
		return len(b0Depthwise)
	}
	return n
}()

// benchBackend is the backend named by $MLKIT_BENCH_BACKEND, default xla:cpu (skipped when missing).
func benchBackend(b *testing.B) backends.Backend {
	name := os.Getenv("MLKIT_BENCH_BACKEND")
	if name == "" {
		name = "xla:cpu"
	}
	be, err := backend.Named(name)
	if err != nil {
		b.Skipf("backend %s: %v", name, err)
	}
	return be
}

// benchGraph times one execution of build's outputs on inputs of the given shapes (float32, filled with
// a pattern); compilation is not timed.
func benchGraph(b *testing.B, ins []shapes.Shape, build func(ins []*Node) []*Node) {
	be := benchBackend(b)
	exec := MustNewExec(be, func(ins []*Node) []*Node { return build(ins) })
	args := make([]any, len(ins))
	for i, s := range ins {
		v := make([]float32, s.Size())
		for j := range v {
			v[j] = float32((j*7919+i)%2001)/1000 - 1
		}
		args[i] = tensors.FromFlatDataAndDimensions(v, s.Dimensions...)
	}
	t0 := time.Now()
	exec.MustExec(args...)
	b.Logf("compile + first run %.2fs", time.Since(t0).Seconds())
	b.ResetTimer()
	for b.Loop() {
		for _, t := range exec.MustExec(args...) {
			t.FinalizeAll()
		}
	}
}

// benchDepthwise times forward (and, with grad, the gradients with respect to input and kernel) of all of
// B0's depthwise convolutions at 64 px, batch 8, with padding (k-1)/2 as torchvision's.
func benchDepthwise(b *testing.B, impl nn.DepthwiseImpl, grad string) {
	const batch = 8
	var ins []shapes.Shape
	for _, l := range b0Depthwise[:benchLayers] {
		out := (l.hw + l.s - 1) / l.s
		ins = append(ins, shapes.Make(dtypes.Float32, batch, l.hw, l.hw, l.c), shapes.Make(dtypes.Float32, l.k, l.k, l.c, 1),
			shapes.Make(dtypes.Float32, batch, out, out, l.c))
	}
	benchGraph(b, ins, func(in []*Node) []*Node {
		var outs []*Node
		for i, l := range b0Depthwise[:benchLayers] {
			x, k, r := in[3*i], in[3*i+1], in[3*i+2]
			p := (l.k - 1) / 2
			y := nn.Depthwise(x, k).Strides(l.s).Padding([2][2]int{{p, p}, {p, p}}).Implementation(impl).Done()
			// The adjoint of y is r, an input: what is timed is the gradient itself, with the adjoint
			// materialised as it is in a network.
			loss := ReduceAllSum(Mul(y, r))
			if os.Getenv("MLKIT_BENCH_LOSS") == "square" {
				loss = ReduceAllSum(Mul(y, y))
			}
			switch grad {
			case "x":
				outs = append(outs, Gradient(loss, x)...)
			case "k":
				outs = append(outs, Gradient(loss, k)...)
			case "both":
				outs = append(outs, Gradient(loss, x, k)...)
			default:
				outs = append(outs, y)
			}
		}
		return outs
	})
}

// BenchmarkDepthwiseB0 runs the forward and the gradient of each implementation, interleaved in one process
// so that their ratios hold on a loaded machine.
func BenchmarkDepthwiseB0(b *testing.B) {
	for _, impl := range []nn.DepthwiseImpl{nn.DepthwiseShiftedAutodiff, nn.DepthwiseShifted} {
		for _, grad := range []string{"none", "x", "k", "both"} {
			b.Run("gradient="+grad+"/"+impl.String(), func(b *testing.B) { benchDepthwise(b, impl, grad) })
		}
	}
}

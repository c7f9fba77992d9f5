package purego_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/visionnb/visionnb/mlkit/backend/purego"
)

// TestFloat32TrainingStepGradients checks the gradients of a small float32 training loss (3x3 convolution,
// ReLU, 1x1 convolution, dense layer; products wider than one AVX2 tile that fill no block or tile
// exactly) on mlkitgo, with each
// block kernel this CPU runs, against the same loss in float64: the float64 gradients are first checked
// against central finite differences, then the float32 ones against them.
func TestFloat32TrainingStepGradients(t *testing.T) {
	be, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	const batch, size, cin, cmid, cout, classes = 3, 7, 5, 37, 20, 5
	dims := [][]int{{batch, size, size, cin}, {3, 3, cin, cmid}, {1, 1, cmid, cout}, {size * size * cout, classes}}
	rng := rand.New(rand.NewPCG(5, 6))
	values := make([][]float64, len(dims))
	for i, d := range dims {
		n := 1
		for _, x := range d {
			n *= x
		}
		values[i] = make([]float64, n)
		for j := range values[i] {
			values[i][j] = rng.Float64()*2 - 1
		}
	}
	target := make([]float64, batch*classes)
	for i := range target {
		target[i] = rng.Float64()*2 - 1
	}
	loss := func(in []*Node) *Node {
		g := in[0].Graph()
		h := Convolve(in[0], in[1]).Strides(1).PadSame().Done()
		h = Add(Max(h, ScalarZero(g, h.DType())), MulScalar(h, 0.1)) // leaky ReLU
		h = Convolve(h, in[2]).Strides(1).NoPadding().Done()
		y := Dot(Reshape(h, batch, -1), in[3])
		tgt := ConvertDType(Const(g, tensors.FromFlatDataAndDimensions(target, batch, classes)), y.DType())
		return ReduceAllSum(Square(Sub(y, tgt)))
	}
	execs := map[dtypes.DType]*Exec{}
	gradsOf := func(dtype dtypes.DType, vals [][]float64) [][]float64 {
		e := execs[dtype]
		if e == nil {
			e, err = NewExec(be, func(in []*Node) []*Node {
				cast := make([]*Node, len(in))
				for i, x := range in {
					cast[i] = ConvertDType(x, dtype)
				}
				out := []*Node{ConvertDType(loss(cast), dtypes.Float64)}
				for _, gr := range Gradient(loss(cast), cast...) {
					out = append(out, ConvertDType(gr, dtypes.Float64))
				}
				return out
			})
			if err != nil {
				t.Fatalf("building the %s gradient: %v", dtype, err)
			}
			execs[dtype] = e
		}
		args := make([]any, len(vals))
		for i := range vals {
			args[i] = tensors.FromFlatDataAndDimensions(vals[i], dims[i]...)
		}
		outs, err := e.Exec(args...)
		if err != nil {
			t.Fatalf("running the %s gradient: %v", dtype, err)
		}
		res := make([][]float64, len(outs))
		for i, o := range outs {
			res[i] = tensors.MustCopyFlatData[float64](o)
		}
		return res
	}
	ref := gradsOf(dtypes.Float64, values)
	// Finite differences on a sample of coordinates of every input (the float64 path is the reference).
	const h = 1e-6
	for i := range values {
		for _, j := range []int{0, len(values[i]) / 3, len(values[i]) / 2, len(values[i]) - 1} {
			pert := func(d float64) float64 {
				vals := make([][]float64, len(values))
				copy(vals, values)
				vals[i] = append([]float64(nil), values[i]...)
				vals[i][j] += d
				return gradsOf(dtypes.Float64, vals)[0][0]
			}
			numeric := (pert(h) - pert(-h)) / (2 * h)
			if d := math.Abs(numeric - ref[1+i][j]); d > 1e-5*math.Max(1, math.Abs(numeric)) {
				t.Fatalf("float64 gradient of input %d at %d: %g, finite differences %g", i, j, ref[1+i][j], numeric)
			}
		}
	}
	for _, kernel := range purego.KernelsForTest() {
		t.Run(kernel, func(t *testing.T) {
			defer purego.UseKernelForTest(kernel)()
			got := gradsOf(dtypes.Float32, values)
			for i := range values {
				var diff, scale float64
				for j := range ref[1+i] {
					diff = math.Max(diff, math.Abs(got[1+i][j]-ref[1+i][j]))
					scale = math.Max(scale, math.Abs(ref[1+i][j]))
				}
				if diff/scale > 1e-4 {
					t.Errorf("float32 gradient of input %d: max error %g relative to max |gradient| %g", i, diff, scale)
				}
			}
		})
	}
}

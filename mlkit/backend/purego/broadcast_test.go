package purego

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestFastBroadcastMatchesReference runs every fast-broadcast op through the backend on operand pairs
// broadcast along leading, trailing, middle and alternating axes, on either side, small and large
// (parallel), and compares each element with a float64 reference over the multi-index.
func TestFastBroadcastMatchesReference(t *testing.T) {
	if !fastBroadcastInstalled {
		t.Fatal("installFastBroadcast did not find simplego's executors")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // The large cases split over 2 cores even on 1.
	// Fused nodes would compute the equal-shape, scalar and per-channel cases.
	withoutFusion(t)
	be := newTestBackend(t)
	ops := []struct {
		name string
		f    func(a, b *Node) *Node
		ref  func(a, b float64) float64
	}{
		{"Add", Add, func(a, b float64) float64 { return a + b }},
		{"Sub", Sub, func(a, b float64) float64 { return a - b }},
		{"Mul", Mul, func(a, b float64) float64 { return a * b }},
		{"Div", Div, func(a, b float64) float64 { return a / b }},
		{"Max", Max, math.Max},
		{"Min", Min, math.Min},
	}
	pairs := [][2][]int{
		{{2, 3, 4, 5}, {1, 1, 1, 5}},       // per channel
		{{1, 1, 1, 5}, {2, 3, 4, 5}},       // per channel, on the left
		{{2, 3, 4, 5}, {2, 1, 1, 5}},       // squeeze-excite gate
		{{2, 3, 4, 5}, {2, 3, 4, 1}},       // per position
		{{3, 1, 4}, {3, 5, 4}},             // middle axis
		{{1, 6, 1, 7}, {5, 6, 4, 7}},       // alternating
		{{5, 1, 7}, {1, 6, 1}},             // both sides broadcast
		{{8, 32, 32, 16}, {1, 1, 1, 16}},   // large: split over the cores
		{{8, 16, 1, 1}, {8, 16, 32, 33}},   // large, row-scalar on the left
		{{8, 32, 32, 16}, {8, 32, 32, 16}}, // large, equal shapes: split over the cores
		{{8, 32, 32, 16}, {1, 1, 1, 1}},    // large, scalar on the right
		{{1, 1, 1, 1}, {8, 32, 32, 16}},    // large, scalar on the left
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, op := range ops {
		for _, pr := range pairs {
			t.Run(fmt.Sprintf("%s%v%v", op.name, pr[0], pr[1]), func(t *testing.T) {
				a, b := randomTensor(r, pr[0]), randomTensor(r, pr[1])
				runs := fastBroadcastRuns.Load()
				got := MustExecOnce(be, op.f, a, b)
				if fastBroadcastRuns.Load() == runs {
					t.Errorf("the op did not go through the fast broadcasting executor")
				}
				want, dims := reference(op.ref, a, b, pr[0], pr[1])
				if fmt.Sprint(got.Shape().Dimensions) != fmt.Sprint(dims) {
					t.Fatalf("shape %v, want %v", got.Shape().Dimensions, dims)
				}
				flat := tensors.MustCopyFlatData[float32](got)
				for i, w := range want {
					if math.Abs(float64(flat[i])-w) > 1e-5*math.Max(1, math.Abs(w)) {
						t.Fatalf("element %d: %v, want %v", i, flat[i], w)
					}
				}
			})
		}
	}
}

func randomTensor(r *rand.Rand, dims []int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) + 0.1 // away from 0, for Div
		if math.Abs(float64(v[i])) < 0.05 {
			v[i] = 0.5
		}
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// reference computes f over the broadcast multi-index in float64.
func reference(f func(a, b float64) float64, a, b *tensors.Tensor, ad, bd []int) ([]float64, []int) {
	af, bf := tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](b)
	dims := make([]int, len(ad))
	n := 1
	for i := range ad {
		dims[i] = max(ad[i], bd[i])
		n *= dims[i]
	}
	out := make([]float64, n)
	idx := make([]int, len(dims))
	for o := range n {
		rem := o
		for k := len(dims) - 1; k >= 0; k-- {
			idx[k] = rem % dims[k]
			rem /= dims[k]
		}
		ai, bi := 0, 0
		for k := range dims {
			ai = ai*ad[k] + min(idx[k], ad[k]-1)
			bi = bi*bd[k] + min(idx[k], bd[k]-1)
		}
		out[o] = f(float64(af[ai]), float64(bf[bi]))
	}
	return out, dims
}

// TestFastReduceSumMatchesReference sums over leading, trailing, middle, alternating and all axes, small
// and large (split over the cores), through the backend, against a float64 reference.
func TestFastReduceSumMatchesReference(t *testing.T) {
	if !fastReduceSumInstalled {
		t.Fatal("installFastReduceSum did not find simplego's float32 ReduceSum")
	}
	be := newTestBackend(t)
	cases := []struct {
		dims, axes []int
	}{
		{[]int{2, 3, 4, 5}, []int{0, 1, 2}}, // batch-norm statistics
		{[]int{2, 3, 4, 5}, []int{1, 2}},    // global average pooling
		{[]int{2, 3, 4, 5}, []int{3}},       // softmax
		{[]int{2, 3, 4, 5}, []int{0, 2}},    // alternating
		{[]int{2, 1, 4, 1}, []int{1, 2}},    // size-1 axes
		{[]int{2, 3, 4, 5}, []int{0, 1, 2, 3}},
		{[]int{16, 32, 32, 24}, []int{0, 1, 2}}, // large, reduced outer rows shared by the workers
		{[]int{16, 32, 32, 24}, []int{1, 2}},
		{[]int{64, 4096}, []int{1}},
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v_over_%v", c.dims, c.axes), func(t *testing.T) {
			x := randomTensor(r, c.dims)
			runs := fastReduceSumRuns.Load()
			got := MustExecOnce(be, func(x *Node) *Node { return ReduceSum(x, c.axes...) }, x)
			if fastReduceSumRuns.Load() == runs {
				t.Errorf("the reduction did not go through fastReduceSum")
			}
			xf := tensors.MustCopyFlatData[float32](x)
			reduced := map[int]bool{}
			for _, a := range c.axes {
				reduced[a] = true
			}
			var outDims []int
			for k, d := range c.dims {
				if !reduced[k] {
					outDims = append(outDims, d)
				}
			}
			outSize := 1
			for _, d := range outDims {
				outSize *= d
			}
			want := make([]float64, outSize)
			idx := make([]int, len(c.dims))
			for i, v := range xf {
				rem := i
				for k := len(c.dims) - 1; k >= 0; k-- {
					idx[k] = rem % c.dims[k]
					rem /= c.dims[k]
				}
				o := 0
				for k, d := range c.dims {
					if !reduced[k] {
						o = o*d + idx[k]
					}
				}
				want[o] += float64(v)
			}
			flat := tensors.MustCopyFlatData[float32](got)
			if len(flat) != outSize {
				t.Fatalf("%d outputs, want %d", len(flat), outSize)
			}
			for i, w := range want {
				if math.Abs(float64(flat[i])-w) > 1e-4*math.Max(1, math.Abs(w)) {
					t.Fatalf("output %d: %v, want %v", i, flat[i], w)
				}
			}
		})
	}
}

// TestFastSliceMatchesReference takes strided and shifted slices (depthwise convolution's, im2col's,
// whole trailing axes, a cut last axis) through the backend and checks every element.
func TestFastSliceMatchesReference(t *testing.T) {
	if !fastSliceInstalled {
		t.Fatal("installFastSlice did not find simplego's float32 Slice")
	}
	be := newTestBackend(t)
	cases := []struct {
		dims, starts, limits, strides []int
		fast                          bool // rows long enough for the fast path
	}{
		{[]int{2, 10, 10, 8}, []int{0, 1, 2, 0}, []int{2, 9, 10, 8}, []int{1, 1, 1, 1}, true},  // shifted
		{[]int{2, 10, 10, 8}, []int{0, 0, 1, 0}, []int{2, 10, 10, 8}, []int{1, 2, 2, 1}, true}, // strided
		{[]int{2, 10, 10, 8}, []int{1, 0, 0, 0}, []int{2, 10, 10, 8}, []int{1, 1, 1, 1}, true}, // whole trailing axes
		{[]int{3, 7, 9}, []int{0, 2, 1}, []int{3, 7, 8}, []int{1, 1, 1}, true},                 // cut last axis
		{[]int{4, 6, 2}, []int{0, 0, 0}, []int{4, 6, 2}, []int{2, 3, 2}, false},                // stride on the last axis
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v_%v_%v_%v", c.dims, c.starts, c.limits, c.strides), func(t *testing.T) {
			x := randomTensor(r, c.dims)
			runs := fastSliceRuns.Load()
			got := MustExecOnce(be, func(x *Node) *Node {
				specs := make([]SliceAxisSpec, len(c.dims))
				for k := range c.dims {
					specs[k] = AxisRange(c.starts[k], c.limits[k]).Stride(c.strides[k])
				}
				return Slice(x, specs...)
			}, x)
			if fast := fastSliceRuns.Load() > runs; fast != c.fast {
				t.Errorf("went through fastSlice: %v, want %v", fast, c.fast)
			}
			xf, flat := tensors.MustCopyFlatData[float32](x), tensors.MustCopyFlatData[float32](got)
			outDims := make([]int, len(c.dims))
			n := 1
			for k := range c.dims {
				outDims[k] = (c.limits[k] - c.starts[k] + c.strides[k] - 1) / c.strides[k]
				n *= outDims[k]
			}
			if len(flat) != n {
				t.Fatalf("%d elements, want %d", len(flat), n)
			}
			idx := make([]int, len(c.dims))
			for o := range n {
				rem := o
				for k := len(c.dims) - 1; k >= 0; k-- {
					idx[k] = rem % outDims[k]
					rem /= outDims[k]
				}
				in := 0
				for k, d := range c.dims {
					in = in*d + c.starts[k] + idx[k]*c.strides[k]
				}
				if flat[o] != xf[in] {
					t.Fatalf("element %d (index %v): %v, want %v", o, idx, flat[o], xf[in])
				}
			}
		})
	}
}

// TestParallelUnaryMatchesReference runs every parallelised unary op on a large operand, a parameter (the
// output is a copy) and an intermediate (computed in place), against float64 math.
func TestParallelUnaryMatchesReference(t *testing.T) {
	if !parallelUnaryInstalled {
		t.Fatal("installParallelUnary did not find simplego's executors")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	withoutFusion(t) // Fused nodes would compute the fusable ones.
	be := newTestBackend(t)
	ops := []struct {
		name string
		f    func(*Node) *Node
		ref  func(float64) float64
	}{
		{"Neg", Neg, func(x float64) float64 { return -x }},
		{"Abs", Abs, math.Abs},
		{"Sign", Sign, func(x float64) float64 { return math.Copysign(1, x) }},
		{"Exp", Exp, math.Exp},
		{"Expm1", Expm1, math.Expm1},
		{"Log", func(x *Node) *Node { return Log(Abs(x)) }, func(x float64) float64 { return math.Log(math.Abs(x)) }},
		{"Log1p", func(x *Node) *Node { return Log1p(Abs(x)) }, func(x float64) float64 { return math.Log1p(math.Abs(x)) }},
		{"Rsqrt", func(x *Node) *Node { return Rsqrt(Abs(x)) }, func(x float64) float64 { return 1 / math.Sqrt(math.Abs(x)) }},
		{"Sqrt", func(x *Node) *Node { return Sqrt(Abs(x)) }, func(x float64) float64 { return math.Sqrt(math.Abs(x)) }},
		{"Cos", Cos, math.Cos},
		{"Sin", Sin, math.Sin},
		{"Tanh", Tanh, math.Tanh},
		{"Logistic", Logistic, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
		{"Erf", Erf, math.Erf},
	}
	r := rand.New(rand.NewPCG(9, 10))
	x := randomTensor(r, []int{4, 64, 64, 8})
	xf := tensors.MustCopyFlatData[float32](x)
	for _, op := range ops {
		for _, scale := range []float64{0, 1.5} { // 0: on the parameter itself; else on x*scale, an intermediate
			t.Run(fmt.Sprintf("%s_scale%g", op.name, scale), func(t *testing.T) {
				runs := parallelUnaryRuns.Load()
				got := MustExecOnce(be, func(x *Node) *Node {
					if scale != 0 {
						x = MulScalar(x, scale)
					}
					return op.f(x)
				}, x)
				if parallelUnaryRuns.Load() == runs {
					t.Errorf("the op did not go through parallelUnary")
				}
				flat := tensors.MustCopyFlatData[float32](got)
				for i, v := range xf {
					in := float64(v)
					if scale != 0 {
						in = float64(float32(in * scale))
					}
					if w := op.ref(in); math.Abs(float64(flat[i])-w) > 2e-6*math.Max(1, math.Abs(w)) {
						t.Fatalf("element %d (x=%v): %v, want %v", i, in, flat[i], w)
					}
				}
			})
		}
	}
}

// TestFastBroadcastInDimMatchesReference broadcasts per-channel, per-example, per-position and alternating
// operands, small and large, and new axes (ExpandAndBroadcast), against the multi-index reference.
func TestFastBroadcastInDimMatchesReference(t *testing.T) {
	if !fastBroadcastInDimInstalled {
		t.Fatal("installFastBroadcastInDim did not find simplego's float32 BroadcastInDim")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	be := newTestBackend(t)
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range [][2][]int{
		{{1, 1, 1, 5}, {2, 3, 4, 5}},
		{{2, 1, 1, 5}, {2, 3, 4, 5}},
		{{2, 3, 4, 1}, {2, 3, 4, 5}},
		{{1, 6, 1, 7}, {5, 6, 4, 7}},
		{{1, 1, 1, 64}, {8, 32, 32, 64}}, // large: split over the cores
		{{8, 32, 32, 1}, {8, 32, 32, 16}},
	} {
		t.Run(fmt.Sprintf("%v_to_%v", c[0], c[1]), func(t *testing.T) {
			x := randomTensor(r, c[0])
			runs := fastBroadcastInDimRuns.Load()
			got := MustExecOnce(be, func(x *Node) *Node { return BroadcastToDims(x, c[1]...) }, x)
			if fastBroadcastInDimRuns.Load() == runs {
				t.Errorf("the broadcast did not go through fastBroadcastInDim")
			}
			want, _ := reference(func(a, _ float64) float64 { return a }, x, randomTensor(r, c[1]), c[0], c[1])
			flat := tensors.MustCopyFlatData[float32](got)
			for i, w := range want {
				if float64(flat[i]) != w {
					t.Fatalf("element %d: %v, want %v", i, flat[i], w)
				}
			}
		})
	}
	// New axes: [3, 5] -> [3, 4, 5].
	x := randomTensor(r, []int{3, 5})
	got := MustExecOnce(be, func(x *Node) *Node { return ExpandAndBroadcast(x, []int{3, 4, 5}, []int{1}) }, x)
	xf, flat := tensors.MustCopyFlatData[float32](x), tensors.MustCopyFlatData[float32](got)
	for i := range 3 {
		for j := range 4 {
			for k := range 5 {
				if flat[(i*4+j)*5+k] != xf[i*5+k] {
					t.Fatalf("ExpandAndBroadcast [%d,%d,%d] = %v, want %v", i, j, k, flat[(i*4+j)*5+k], xf[i*5+k])
				}
			}
		}
	}
}

// newTestBackend creates the backend for one test, finalized when it ends.
func newTestBackend(t *testing.T) backends.Backend {
	t.Helper()
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(be.Finalize)
	return be
}

package purego

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/batchnorm"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// withoutFusion turns elementwise fusion off for the rest of the test.
func withoutFusion(t *testing.T) {
	t.Helper()
	prev := fusionOn
	fusionOn = false
	t.Cleanup(func() { fusionOn = prev })
}

// sameBits reports the first element where got and want differ bit for bit (NaNs of any payload are equal).
func sameBits(got, want []float32) (int, bool) {
	if len(got) != len(want) {
		return -1, false
	}
	for i := range got {
		g, w := got[i], want[i]
		if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			return i, false
		}
	}
	return 0, true
}

// TestFusionMatchesUnfused computes elementwise expressions (chains, reused subexpressions, scalars,
// per-channel vectors, every fused unary op, programs past the size limits), small and large (split over
// the cores), with fusion on and off: the results must be bit-identical, and a float64 reference must
// agree within float32 rounding.
func TestFusionMatchesUnfused(t *testing.T) {
	if !fusionOn {
		t.Fatal("installFusion did not find simplego's Node layout (or MLKIT_FUSE=0 is set)")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	be := newTestBackend(t)
	type expr struct {
		name string
		f    func(x, y, c *Node) *Node // x, y: [dims]; c: [1, ..., 1, C]
		ref  func(x, y, c float64) float64
		// instrs is the fused node's expected program length (one fused node), 0 when not one node.
		instrs int
		// tol is the relative tolerance against the float64 reference (0: 1e-4).
		tol float64
	}
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	exprs := []expr{
		{"chain", func(x, y, c *Node) *Node { return Sub(Mul(AddScalar(x, 1), y), Div(y, AddScalar(Abs(x), 2))) },
			func(x, y, c float64) float64 { return (x+1)*y - y/(math.Abs(x)+2) }, 6, 0},
		{"adam", func(x, y, c *Node) *Node {
			m := Add(MulScalar(x, 0.9), MulScalar(y, 0.1))
			v := Add(MulScalar(Mul(x, x), 0.999), MulScalar(Mul(y, y), 0.001))
			return Sub(x, MulScalar(Div(m, AddScalar(Sqrt(v), 1e-8)), 1e-3))
		}, func(x, y, c float64) float64 {
			m := 0.9*x + 0.1*y
			v := 0.999*x*x + 0.001*y*y
			return x - 1e-3*m/(math.Sqrt(v)+1e-8)
		}, 0, 0},
		{"perChannel", func(x, y, c *Node) *Node { return Max(Add(Mul(x, c), c), ScalarZero(x.Graph(), x.DType())) },
			func(x, y, c float64) float64 { return math.Max(x*c+c, 0) }, 3, 0},
		{"channelLeft", func(x, y, c *Node) *Node { return Sub(c, Min(x, y)) },
			func(x, y, c float64) float64 { return c - math.Min(x, y) }, 2, 0},
		{"unary", func(x, y, c *Node) *Node {
			return Add(Add(Add(Neg(Sign(x)), Rsqrt(AddScalar(Abs(y), 1))), Add(Exp(MulScalar(x, 0.5)), Log(AddScalar(Abs(y), 0.5)))),
				Add(Logistic(x), Tanh(y)))
		}, func(x, y, c float64) float64 {
			s := 0.0
			if x > 0 {
				s = 1
			} else if x < 0 {
				s = -1
			}
			return -s + 1/math.Sqrt(math.Abs(y)+1) + math.Exp(x*0.5) + math.Log(math.Abs(y)+0.5) + sig(x) + math.Tanh(y)
		}, 0, 0},
		{"reused", func(x, y, c *Node) *Node { // s is used three times, once directly.
			s := Mul(Add(x, y), c)
			return Add(Mul(s, s), Sub(s, x))
		}, func(x, y, c float64) float64 { s := (x + y) * c; return s*s + (s - x) }, 0, 0},
		{"long", func(x, y, c *Node) *Node { // past maxFusedCode: split over several fused nodes.
			v := x
			for i := range maxFusedCode + 10 {
				v = AddScalar(MulScalar(v, 0.5), float64(i%3))
			}
			return Add(v, y)
		}, func(x, y, c float64) float64 {
			v := x
			for i := range maxFusedCode + 10 {
				v = v*0.5 + float64(i%3)
			}
			return v + y
		}, 0, 0},
		{"manyLeaves", func(x, y, c *Node) *Node { // past maxFusedLeaves: distinct slices are distinct leaves.
			v := x
			for i := range maxFusedLeaves + 3 {
				v = Add(v, MulScalar(y, float64(i)))
				v = Mul(v, Neg(Neg(Reshape(Reshape(x, -1), x.Shape().Dimensions...)))) // a new leaf each time
				v = Min(v, AddScalar(y, float64(i+10)))
			}
			return v
		}, func(x, y, c float64) float64 {
			v := x
			for i := range maxFusedLeaves + 3 {
				v = math.Min((v+y*float64(i))*x, y+float64(i+10))
			}
			return v
		}, 0, 1e-2}, // eleven products by x: float32 rounding grows
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, dims := range [][]int{{3, 5}, {2, 4, 4, 7}, {8, 32, 32, 16}} {
		x, y := randomTensor(r, dims), randomTensor(r, dims)
		cd := make([]int, len(dims))
		for i := range cd {
			cd[i] = 1
		}
		cd[len(cd)-1] = dims[len(dims)-1]
		c := randomTensor(r, cd)
		xf, yf, cf := tensors.MustCopyFlatData[float32](x), tensors.MustCopyFlatData[float32](y), tensors.MustCopyFlatData[float32](c)
		for _, e := range exprs {
			t.Run(fmt.Sprintf("%s%v", e.name, dims), func(t *testing.T) {
				runs, instrs := fusedRuns.Load(), fusedInstrs.Load()
				fused := tensors.MustCopyFlatData[float32](MustExecOnce(be, e.f, x, y, c))
				runs, instrs = fusedRuns.Load()-runs, fusedInstrs.Load()-instrs
				if runs == 0 {
					t.Fatal("no fused node ran")
				}
				if e.instrs > 0 && (runs != 1 || instrs != int64(e.instrs)) {
					t.Errorf("%d fused nodes ran with %d instructions, want 1 with %d", runs, instrs, e.instrs)
				}
				prev := fusionOn
				fusionOn = false
				plain := tensors.MustCopyFlatData[float32](MustExecOnce(be, e.f, x, y, c))
				fusionOn = prev
				if i, ok := sameBits(fused, plain); !ok {
					t.Fatalf("fused and unfused differ at %d: %v vs %v", i, fused[i], plain[i])
				}
				nc := len(cf)
				for i, v := range fused {
					want := e.ref(float64(xf[i]), float64(yf[i]), float64(cf[i%nc]))
					tol := e.tol
					if tol == 0 {
						tol = 1e-4
					}
					if d := math.Abs(float64(v) - want); d > tol*(1+math.Abs(want)) {
						t.Fatalf("element %d: %v, float64 reference %v", i, v, want)
					}
				}
			})
		}
	}
}

// TestFusionTrainStepBitIdentical trains a small convolutional network (batch norm, ReLU, a dense head,
// Adam) for three steps with fusion on and off, from the same initial weights: losses and every weight
// must be bit-identical, and the fused run must have run fused nodes (the gradients and Adam's update).
func TestFusionTrainStepBitIdentical(t *testing.T) {
	be := newTestBackend(t)
	r := rand.New(rand.NewPCG(5, 6))
	images := randomTensor(r, []int{4, 12, 12, 3})
	labels := tensors.FromFlatDataAndDimensions([]int32{0, 1, 2, 1}, 4, 1)
	run := func() ([]float32, map[string][]float32) {
		ctx := context.New()
		ctx.SetParam(context.ParamInitialSeed, int64(7))
		opt := optimizers.Adam().Done()
		step := context.MustNewExec(be, ctx, func(ctx *context.Context, x, y *Node) *Node {
			g := x.Graph()
			ctx.SetTraining(g, true)
			h := layers.Convolution(ctx.In("c1"), x).Channels(8).KernelSize(3).PadSame().Done()
			h = batchnorm.New(ctx.In("bn1"), h, -1).Done()
			h = Max(h, ScalarZero(g, h.DType()))
			h = ReduceMean(h, 1, 2)
			logits := layers.Dense(ctx.In("head"), h, true, 3)
			loss := ReduceAllMean(losses.SparseCategoricalCrossEntropyLogits([]*Node{y}, []*Node{logits}))
			opt.UpdateGraph(ctx, g, loss)
			return loss
		})
		var ls []float32
		for range 3 {
			ls = append(ls, step.MustExec1(images, labels).Value().(float32))
		}
		w := map[string][]float32{}
		for v := range ctx.IterVariables() {
			if v.DType() == images.DType() {
				w[v.ScopeAndName()] = tensors.MustCopyFlatData[float32](v.MustValue())
			}
		}
		return ls, w
	}
	runs := fusedRuns.Load()
	lossF, wF := run()
	if fusedRuns.Load() == runs {
		t.Fatal("no fused node ran in the training steps")
	}
	withoutFusion(t)
	lossP, wP := run()
	if i, ok := sameBits(lossF, lossP); !ok {
		t.Fatalf("losses differ at step %d: fused %v, unfused %v", i, lossF, lossP)
	}
	if len(wF) == 0 || len(wF) != len(wP) {
		t.Fatalf("%d fused variables, %d unfused", len(wF), len(wP))
	}
	for name, f := range wF {
		if i, ok := sameBits(f, wP[name]); !ok {
			t.Errorf("%s differs at %d: fused %v, unfused %v", name, i, f[i], wP[name][i])
		}
	}
}

// TestFusionSliceAndPeriodicLeaves fuses a depthwise convolution's tap sum (single-use strided slices of
// a padded input, read in place, times per-channel weights) and products with trailing-axes vectors
// ([1,1,1,C,1] against [B,H,W,C,1]), large and small, and compares with the unfused graph bit for bit.
func TestFusionSliceAndPeriodicLeaves(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	be := newTestBackend(t)
	taps := func(stride int) func(x, w *Node) *Node {
		return func(x, w *Node) *Node { // x [B,H,W,C], w [3,3,C]
			d := x.Shape().Dimensions
			xp := Pad(x, ScalarZero(x.Graph(), x.DType()), PadAxis{}, PadAxis{Start: 1, End: 1}, PadAxis{Start: 1, End: 1})
			ho, wo := (d[1]-1)/stride+1, (d[2]-1)/stride+1
			var sum *Node
			for i := range 3 {
				for j := range 3 {
					tap := Slice(xp, AxisRange(), AxisRange(i, i+(ho-1)*stride+1).Stride(stride), AxisRange(j, j+(wo-1)*stride+1).Stride(stride), AxisRange())
					term := Mul(tap, Reshape(Slice(w, AxisElem(i), AxisElem(j), AxisRange()), 1, 1, 1, d[3]))
					if sum == nil {
						sum = term
					} else {
						sum = Add(sum, term)
					}
				}
			}
			return sum
		}
	}
	periodic := func(x, w *Node) *Node {
		d := x.Shape().Dimensions
		x5 := InsertAxes(x, -1)                                                         // [B,H,W,C,1]
		v := Reshape(Slice(w, AxisElem(0), AxisElem(0), AxisRange()), 1, 1, 1, d[3], 1) // [1,1,1,C,1]
		return Sub(Mul(x5, v), AddScalar(v, 1))
	}
	r := rand.New(rand.NewPCG(51, 52))
	for _, dims := range [][]int{{2, 5, 6, 3}, {4, 40, 36, 24}} {
		x, w := randomTensor(r, dims), randomTensor(r, []int{3, 3, dims[3]})
		for name, f := range map[string]func(x, w *Node) *Node{"taps1": taps(1), "taps2": taps(2), "periodic": periodic} {
			t.Run(fmt.Sprintf("%s%v", name, dims), func(t *testing.T) {
				runs, slices := fusedRuns.Load(), fusedSliceLeaves.Load()
				got := tensors.MustCopyFlatData[float32](MustExecOnce(be, f, x, w))
				if fusedRuns.Load() == runs {
					t.Fatal("no fused node ran")
				}
				if name != "periodic" && fusedSliceLeaves.Load()-slices != 9 {
					t.Errorf("%d taps read in place, want 9", fusedSliceLeaves.Load()-slices)
				}
				withoutFusion(t)
				want := tensors.MustCopyFlatData[float32](MustExecOnce(be, f, x, w))
				fusionOn = true
				if i, ok := sameBits(got, want); !ok {
					t.Fatalf("fused and unfused differ at %d: %v vs %v", i, got[i], want[i])
				}
			})
		}
	}
}

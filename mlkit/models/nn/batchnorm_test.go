package nn_test

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/models/nn"
)

func testBackend(t *testing.T) backends.Backend {
	t.Helper()
	b, _, err := backend.Default()
	if err != nil {
		t.Fatalf("backend: %v", err)
	}
	return b
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

// TestBatchNormTorchSemantics checks training-mode normalisation (biased batch variance), the running
// statistics update (PyTorch momentum convention, unbiased variance) and inference with the running
// statistics, against values computed by hand.
func TestBatchNormTorchSemantics(t *testing.T) {
	b := testBackend(t)
	ctx := context.New()
	// x: [4, 1, 1, 2]; channel 0 = 1,2,3,4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1 = 0,0,0,8.
	x := tensors.FromValue([][][][]float32{{{{1, 0}}}, {{{2, 0}}}, {{{3, 0}}}, {{{4, 8}}}})
	train := context.MustNewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), true)
		return nn.BatchNorm(ctx.In("bn"), x).Epsilon(1e-5).Momentum(0.1).Done()
	})
	y := tensors.MustCopyFlatData[float32](train.MustExec1(x))
	for i, v := range []float64{1, 2, 3, 4} {
		want := (v - 2.5) / math.Sqrt(1.25+1e-5)
		if !near(float64(y[2*i]), want, 1e-5) {
			t.Errorf("training output channel 0, row %d: got %g, want %g", i, y[2*i], want)
		}
	}
	get := func(name string) []float32 {
		v := ctx.GetVariableByScopeAndName("/bn", name)
		if v == nil {
			t.Fatalf("variable /bn/%s missing", name)
		}
		return tensors.MustCopyFlatData[float32](v.MustValue())
	}
	mean, variance := get(nn.BNRunningMean), get(nn.BNRunningVar)
	wantMean := []float64{0.1 * 2.5, 0.1 * 2}
	// Channel 1 = 0,0,0,8: mean 2, biased variance (3*4+36)/4 = 12, unbiased 16.
	wantVar := []float64{0.9 + 0.1*5.0/3.0, 0.9 + 0.1*16}
	for c := range 2 {
		if !near(float64(mean[c]), wantMean[c], 1e-5) || !near(float64(variance[c]), wantVar[c], 1e-5) {
			t.Errorf("channel %d running stats: got mean %g var %g, want %g %g", c, mean[c], variance[c], wantMean[c], wantVar[c])
		}
	}
	if len(get(nn.BNWeight)) != 2 || len(get(nn.BNBias)) != 2 {
		t.Errorf("weight/bias variables have the wrong size")
	}
	infer := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, x *Node) *Node {
		return nn.BatchNorm(ctx.In("bn"), x).Epsilon(1e-5).Done()
	})
	y = tensors.MustCopyFlatData[float32](infer.MustExec1(x))
	if want := (4 - wantMean[0]) / math.Sqrt(wantVar[0]+1e-5); !near(float64(y[6]), want, 1e-5) {
		t.Errorf("inference output: got %g, want %g", y[6], want)
	}
	// Trainable: weight and bias only.
	for v := range ctx.IterVariables() {
		wantTrainable := v.Name() == nn.BNWeight || v.Name() == nn.BNBias
		if v.Trainable != wantTrainable {
			t.Errorf("variable %s/%s trainable=%v", v.Scope(), v.Name(), v.Trainable)
		}
	}
}

// TestConv2DMatchesLoop compares Conv2D (general path and the 1x1 matrix-product path, with strides)
// with a direct loop, using PyTorch's symmetric padding.
func TestConv2DMatchesLoop(t *testing.T) {
	b := testBackend(t)
	const n, h, w, cin, cout = 2, 7, 6, 3, 4
	xs := make([]float32, n*h*w*cin)
	for i := range xs {
		xs[i] = float32(math.Sin(float64(i) * 0.37))
	}
	for _, c := range []struct{ k, stride, pad int }{{3, 1, 1}, {3, 2, 1}, {7, 2, 3}, {1, 1, 0}, {1, 2, 0}} {
		ctx := context.New()
		e := context.MustNewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
			return nn.Conv2D(ctx.In("conv"), x).Filters(cout).KernelSize(c.k).Stride(c.stride).Padding(c.pad).Bias(true).Done()
		})
		x := tensors.FromFlatDataAndDimensions(xs, n, h, w, cin)
		out := e.MustExec1(x)
		got := tensors.MustCopyFlatData[float32](out)
		kv := ctx.GetVariableByScopeAndName("/conv", nn.ParamWeight)
		bv := ctx.GetVariableByScopeAndName("/conv", nn.ParamBias)
		if kv == nil || bv == nil {
			t.Fatalf("conv variables missing")
		}
		// Non-zero bias, to check it is added.
		bv.MustSetValue(tensors.FromValue([]float32{0.1, -0.2, 0.3, -0.4}))
		got = tensors.MustCopyFlatData[float32](e.MustExec1(x))
		kern := tensors.MustCopyFlatData[float32](kv.MustValue()) // [k,k,cin,cout]
		oh, ow := (h+2*c.pad-c.k)/c.stride+1, (w+2*c.pad-c.k)/c.stride+1
		if dims := out.Shape().Dimensions; dims[1] != oh || dims[2] != ow || dims[3] != cout {
			t.Fatalf("k=%d stride=%d: output shape %v, want [%d %d %d %d]", c.k, c.stride, dims, n, oh, ow, cout)
		}
		bias := []float64{0.1, -0.2, 0.3, -0.4}
		maxErr := 0.0
		for bi := range n {
			for oy := range oh {
				for ox := range ow {
					for o := range cout {
						s := bias[o]
						for ky := range c.k {
							for kx := range c.k {
								iy, ix := oy*c.stride+ky-c.pad, ox*c.stride+kx-c.pad
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								for ci := range cin {
									s += float64(xs[((bi*h+iy)*w+ix)*cin+ci]) * float64(kern[((ky*c.k+kx)*cin+ci)*cout+o])
								}
							}
						}
						maxErr = max(maxErr, math.Abs(s-float64(got[((bi*oh+oy)*ow+ox)*cout+o])))
					}
				}
			}
		}
		if maxErr > 1e-5 {
			t.Errorf("k=%d stride=%d pad=%d: max error %g vs direct loop", c.k, c.stride, c.pad, maxErr)
		}
	}
}

// TestDropPath checks inference is the identity and training keeps or zeroes whole examples, scaled.
func TestDropPath(t *testing.T) {
	b := testBackend(t)
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(3))
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 64, 2, 2, 3))
	ones := tensors.MustCopyFlatData[float32](x)
	for i := range ones {
		ones[i] = 1
	}
	x = tensors.FromFlatDataAndDimensions(ones, 64, 2, 2, 3)
	for _, training := range []bool{false, true} {
		e := context.MustNewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
			ctx.SetTraining(x.Graph(), training)
			return nn.DropPath(ctx, x, 0.5)
		})
		y := tensors.MustCopyFlatData[float32](e.MustExec1(x))
		kept := 0
		for ex := range 64 {
			row := y[ex*12 : (ex+1)*12]
			for _, v := range row {
				if v != row[0] {
					t.Fatalf("training=%v: example %d is not dropped as a whole: %v", training, ex, row)
				}
			}
			switch {
			case !training && row[0] != 1:
				t.Fatalf("inference changed the input: %v", row)
			case training && row[0] != 0 && row[0] != 2:
				t.Fatalf("training: example %d scaled to %g, want 0 or 2", ex, row[0])
			}
			if row[0] != 0 {
				kept++
			}
		}
		if training && (kept < 16 || kept > 48) {
			t.Errorf("training with p=0.5 kept %d of 64 examples", kept)
		}
	}
}

func TestTorchNameAndLayout(t *testing.T) {
	if got := nn.TorchName("/layer1/0/downsample/1", "running_var"); got != "layer1.0.downsample.1.running_var" {
		t.Errorf("TorchName: got %q", got)
	}
	if got := nn.TorchName("/", "w"); got != "w" {
		t.Errorf("TorchName at root: got %q", got)
	}
	// A PyTorch conv weight [out=2, in=1, kh=1, kw=3] -> [1, 3, 1, 2].
	ctx := context.New()
	v := ctx.In("c").VariableWithShape(nn.ParamWeight, shapes.Make(dtypes.Float32, 1, 3, 1, 2))
	tt, err := nn.FromTorch(v, []int{2, 1, 1, 3}, []float32{0, 1, 2, 10, 11, 12})
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](tt)
	want := []float32{0, 10, 1, 11, 2, 12}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("FromTorch: got %v, want %v", got, want)
		}
	}
	if _, err := nn.FromTorch(v, []int{2, 3}, []float32{0, 1, 2, 10, 11, 12}); err == nil {
		t.Errorf("FromTorch with a wrong shape should fail")
	}
}

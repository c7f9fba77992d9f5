package efficientnet_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/efficientnet"
	"github.com/visionnb/visionnb/mlkit/models/nn/nntest"
)

func newBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, info, err := backend.Default()
	if err != nil {
		t.Fatalf("backend: %v", err)
	}
	t.Logf("backend %s (%s)", info.Name, info.Reason)
	return b
}

// declare creates ctx's variables (without values) by building the model on a throwaway graph.
func declare(b backends.Backend, ctx *context.Context, cfg models.Config, size int) {
	g := NewGraph(b, "declare")
	images := Parameter(g, "images", shapes.Make(dtypes.Float32, 1, size, size, 3))
	efficientnet.Build(ctx, images, cfg)
}

func TestMakeDivisible(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want int
	}{{32, 32}, {32 * 1.1, 32}, {16 * 1.1, 16}, {24 * 1.1, 24}, {40 * 1.1, 48}, {320 * 1.1, 352}, {3, 8}, {11.9, 16}, {12, 16}, {36 * 1.0, 40}} {
		if got := efficientnet.MakeDivisible(c.v, 8); got != c.want {
			t.Errorf("MakeDivisible(%g, 8) = %d, want %d", c.v, got, c.want)
		}
	}
	// B7's scaled table: width 2.0, depth 3.1.
	st := efficientnet.ScaledStages(2.0, 3.1)
	if st[0].In != 64 || st[6].Out != 640 || st[0].Repeats != 4 || st[5].Repeats != 13 {
		t.Errorf("B7 stages: got %+v", st)
	}
}

// TestForVariantFixesWidthAndDepth: ForVariant(v) builds B<v> whatever width and depth cfg asks for (the
// parameter count of Config(v)), and refuses variants outside 0..7.
func TestForVariantFixesWidthAndDepth(t *testing.T) {
	b := newBackend(t)
	for _, v := range []int{0, 3} {
		build, err := efficientnet.ForVariant(v)
		if err != nil {
			t.Fatal(err)
		}
		want := context.New()
		declare(b, want, efficientnet.Config(v), 32)
		got := context.New()
		g := NewGraph(b, "declare")
		build(got, Parameter(g, "images", shapes.Make(dtypes.Float32, 1, 32, 32, 3)), models.New().WithWidth(0.25).WithDepth(0.25))
		if n, w := nntest.CountTrainable(got), nntest.CountTrainable(want); n != w {
			t.Errorf("ForVariant(%d) with width/depth 0.25: %d parameters, B%d has %d", v, n, v, w)
		}
	}
	for _, v := range []int{-1, 8} {
		if _, err := efficientnet.ForVariant(v); err == nil {
			t.Errorf("ForVariant(%d) should fail", v)
		}
	}
}

func TestParameterCounts(t *testing.T) {
	b := newBackend(t)
	data, err := os.ReadFile("testdata/param_counts.json")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if want["b0"] != 5_288_548 {
		t.Fatalf("testdata/param_counts.json says B0 has %d parameters, torchvision's is 5,288,548", want["b0"])
	}
	for v := range 8 {
		ctx := context.New()
		declare(b, ctx, efficientnet.Config(v), 32)
		key := fmt.Sprintf("b%d", v)
		if got := nntest.CountTrainable(ctx); got != want[key] {
			t.Errorf("EfficientNet-B%d with 1000 classes: %d trainable parameters, torchvision has %d", v, got, want[key])
		}
	}
	// Without a head: minus classifier (1280*1000 + 1000).
	ctx := context.New()
	declare(b, ctx, models.New().Classes(0), 32)
	if got, w := nntest.CountTrainable(ctx), 5_288_548-1_281_000; got != w {
		t.Errorf("B0 features: %d trainable parameters, want %d", got, w)
	}
}

// checkParity fills the variant's variables from the reference's formula, runs every reference input
// (up to $MLKIT_PARITY_MAXSIZE px) and compares logits and pooled features. With expectMatch false it
// is a negative control: it requires the worst relative error to exceed the tolerance instead.
func checkParity(t *testing.T, refPath string, variant int, setup func(ctx *context.Context), expectMatch bool) {
	ref, err := nntest.LoadReference(refPath)
	if err != nil {
		t.Fatal(err)
	}
	b := newBackend(t)
	cfg := efficientnet.Config(variant)
	ctx := context.New()
	if setup != nil {
		setup(ctx)
	}
	declare(b, ctx, cfg, 64)
	if got := nntest.CountTrainable(ctx); got != ref.NumParameters {
		t.Errorf("trainable parameters %d, torchvision %d", got, ref.NumParameters)
	}
	if err := nntest.Fill(ctx, ref); err != nil {
		t.Fatal(err)
	}
	logitsExec := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, images *Node) *Node {
		return efficientnet.Build(ctx, images, cfg)
	})
	featuresExec := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, images *Node) *Node {
		return efficientnet.Build(ctx, images, cfg.Classes(0))
	})
	maxSize := 224
	if os.Getenv("MLKIT_PARITY_MAXSIZE") != "" {
		_, _ = fmt.Sscan(os.Getenv("MLKIT_PARITY_MAXSIZE"), &maxSize)
	}
	worst := 0.0
	for _, out := range ref.Outputs {
		if !expectMatch && out.Size > 64 {
			continue
		}
		if out.Size > maxSize {
			t.Logf("skipping %d px input (MLKIT_PARITY_MAXSIZE=%d)", out.Size, maxSize)
			continue
		}
		x := nntest.Input(out.InputIndex, out.Batch, out.Size)
		for _, c := range []struct {
			what string
			exec *context.Exec
			want [][]float64
		}{{"logits", logitsExec, out.Logits}, {"features", featuresExec, out.Features}} {
			start := time.Now()
			got := tensors.MustCopyFlatData[float32](c.exec.MustExec1(x))
			errAbs, scale, err := nntest.Compare(got, c.want)
			if err != nil {
				t.Fatalf("%s, input %d: %v", c.what, out.InputIndex, err)
			}
			t.Logf("%s %s batch %d at %d px: max |GoMLX - torchvision| = %.3g (max |torchvision| = %.3g, relative %.2g), %s",
				ref.Model, c.what, out.Batch, out.Size, errAbs, scale, errAbs/scale, time.Since(start).Round(time.Millisecond))
			worst = max(worst, errAbs/scale)
			if expectMatch && errAbs > 1e-4*scale {
				t.Errorf("%s %s at %d px: max abs error %.3g exceeds 1e-4 x %.3g", ref.Model, c.what, out.Size, errAbs, scale)
			}
		}
	}
	if !expectMatch && worst <= 1e-4 {
		t.Errorf("negative control: a deliberately wrong model matched torchvision within 1e-4 (worst relative error %.3g)", worst)
	}
}

// TestTorchvisionParityB0 compares EfficientNet-B0 logits and pooled features with torchvision's on
// deterministic weights and inputs (testdata/gen_reference.py).
func TestTorchvisionParityB0(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping EfficientNet-B0 forward parity in -short mode")
	}
	checkParity(t, "testdata/efficientnet_b0_reference.json", 0, nil, true)
}

// TestParityDetectsWrongEpsilon is the parity test's negative control: B0 with the TensorFlow BN
// epsilon (1e-3 instead of torchvision's 1e-5) must NOT match.
func TestParityDetectsWrongEpsilon(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping negative control in -short mode")
	}
	checkParity(t, "testdata/efficientnet_b0_reference.json", 0, func(ctx *context.Context) {
		ctx.SetParam(efficientnet.ParamBNEpsilon, 1e-3)
	}, false)
}

// TestTorchvisionParityB5 checks a scaled variant (width 1.6, depth 2.2, BN eps 1e-3) the same way.
func TestTorchvisionParityB5(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping EfficientNet-B5 forward parity in -short mode")
	}
	checkParity(t, "testdata/efficientnet_b5_reference.json", 5, nil, true)
}

// gradientsSupported reports whether the backend can differentiate what EfficientNet needs
// (convolution, and the slices of the depthwise convolution).
func gradientsSupported(b backends.Backend) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	e, err := NewExec(b, func(x, k *Node) []*Node {
		y := Convolve(x, k).Strides(1).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
		y = Slice(y, AxisRange(), AxisRange(1, 4).Stride(2), AxisRange(), AxisRange())
		return Gradient(ReduceAllSum(y), x, k)
	})
	if err != nil {
		return err
	}
	_, err = e.Exec(tensors.FromShape(shapes.Make(dtypes.Float32, 1, 4, 4, 2)), tensors.FromShape(shapes.Make(dtypes.Float32, 3, 3, 2, 2)))
	return err
}

// TestTrainingSmoke takes a few SGD steps (with dropout and stochastic depth) on a tiny batch at 32 px
// and requires the loss to drop. It uses a half-width, half-depth EfficientNet (10 MBConv blocks, every
// kind of block B0 has): XLA compiles the training graph of the depthwise convolutions' shifted slices
// slowly (minutes for the full B0 on a busy 2-core machine).
func TestTrainingSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping training smoke test in -short mode")
	}
	b := newBackend(t)
	if err := gradientsSupported(b); err != nil {
		t.Skipf("skipping: backend %q cannot compute convolution/slice gradients (%v); the improved pure-Go backend from mlkit/backend or XLA can", b.Name(), err)
	}
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(42))
	cfg := efficientnet.Config(0).Classes(4).Size(32).WithWidth(0.5).WithDepth(0.5)
	opt := optimizers.StochasticGradientDescent().WithLearningRate(0.02).Done()
	step := context.MustNewExec(b, ctx, func(ctx *context.Context, images, labels *Node) *Node {
		g := images.Graph()
		ctx.SetTraining(g, true)
		logits := efficientnet.Build(ctx, images, cfg)
		loss := ReduceAllMean(losses.SparseCategoricalCrossEntropyLogits([]*Node{labels}, []*Node{logits}))
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	x := nntest.Input(7, 4, 32)
	y := tensors.FromValue([][]int32{{0}, {1}, {2}, {3}})
	var losses []float32
	for i := range 8 {
		loss := tensors.ToScalar[float32](step.MustExec1(x, y))
		if math.IsNaN(float64(loss)) {
			t.Fatalf("step %d: loss is NaN", i)
		}
		losses = append(losses, loss)
	}
	t.Logf("losses: %v", losses)
	// A freshly initialised classifier gives near-uniform probabilities: loss about ln 4 = 1.39 (torchvision's
	// ±1/sqrt(classes) range, meant for 1000 classes, started 5-class training at ~9).
	if losses[0] > 2.5 {
		t.Errorf("first loss %.2f, want about ln 4 = 1.39: the classifier's initial weights are too large", losses[0])
	}
	// Dropout and stochastic depth make single steps noisy: compare the first and last two.
	first, last := (losses[0]+losses[1])/2, (losses[6]+losses[7])/2
	if !(last < first) {
		t.Errorf("loss did not decrease over 8 SGD steps: %v", losses)
	}
}

// benchmarkForward measures eval-mode forward throughput (images/s) of EfficientNet-B0 with 1000
// classes on the default backend; the first call (graph build and compilation) is not timed.
func benchmarkForward(b *testing.B, batch, size int) {
	be := newBackend(b)
	ctx := context.New()
	e := context.MustNewExec(be, ctx, func(ctx *context.Context, images *Node) *Node {
		return efficientnet.Build(ctx, images, efficientnet.Config(0))
	})
	x := nntest.Input(0, batch, size)
	e.MustExec1(x)
	b.ResetTimer()
	for b.Loop() {
		e.MustExec1(x)
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkForward64Batch8(b *testing.B)  { benchmarkForward(b, 8, 64) }
func BenchmarkForward224Batch2(b *testing.B) { benchmarkForward(b, 2, 224) }

// BenchmarkTrain64Batch8 is the bench's efficientnet_b0_train_64 cell on the default backend.
func BenchmarkTrain64Batch8(b *testing.B) {
	cfg := efficientnet.Config(0).Classes(5).Size(64)
	nntest.BenchmarkTrainStep(b, newBackend(b), func(ctx *context.Context, x *Node) *Node { return efficientnet.Build(ctx, x, cfg) }, 8, 64)
}

// BenchmarkTrain224Batch8 is the bench's efficientnet_b0_train_224 cell on the default backend.
func BenchmarkTrain224Batch8(b *testing.B) {
	cfg := efficientnet.Config(0).Classes(5).Size(224)
	nntest.BenchmarkTrainStep(b, newBackend(b), func(ctx *context.Context, x *Node) *Node { return efficientnet.Build(ctx, x, cfg) }, 8, 224)
}

// TestZeroInitResidual: with ParamZeroInitResidual the projection BN scale of each of B0's 9 MBConv blocks
// with a residual connection starts at 0 (timm's zero_init_last), every other BN scale at 1; without it,
// all start at 1 (torchvision's init).
func TestZeroInitResidual(t *testing.T) {
	b := newBackend(t)
	for _, zero := range []bool{false, true} {
		ctx := context.New()
		ctx.SetParam(efficientnet.ParamZeroInitResidual, zero)
		declare(b, ctx, models.New().Classes(5), 32)
		if err := ctx.InitializeVariables(b, nil); err != nil {
			t.Fatal(err)
		}
		zeros, ones := 0, 0
		for v := range ctx.IterVariables() {
			if v.Name() != "weight" || !strings.HasSuffix(v.Scope(), "/1") || !strings.Contains(v.Scope(), "/block/") {
				continue
			}
			value, err := v.Value()
			if err != nil {
				t.Fatal(err)
			}
			if value.Shape().Rank() != 1 {
				continue // a convolution kernel, not a BN scale
			}
			vals := tensors.MustCopyFlatData[float32](value)
			switch {
			case allEqual(vals, 0):
				zeros++
			case allEqual(vals, 1):
				ones++
			default:
				t.Fatalf("zero=%v: %s/%s starts at %v..., want all 0 or all 1", zero, v.Scope(), v.Name(), vals[:3])
			}
		}
		if wantZeros := map[bool]int{false: 0, true: 9}[zero]; zeros != wantZeros || ones == 0 {
			t.Errorf("zero=%v: %d block BN scales start at 0 (want %d), %d at 1", zero, zeros, wantZeros, ones)
		}
	}
}

func allEqual(vals []float32, x float32) bool {
	for _, v := range vals {
		if v != x {
			return false
		}
	}
	return true
}

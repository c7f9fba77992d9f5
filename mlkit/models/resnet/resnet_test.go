package resnet_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
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
	"github.com/visionnb/visionnb/mlkit/models/nn"
	"github.com/visionnb/visionnb/mlkit/models/nn/nntest"
	"github.com/visionnb/visionnb/mlkit/models/resnet"
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

// resnet50 is the ResNet50 constructor the tests use.
var resnet50 = func() models.BuildFunc {
	build, err := resnet.ForDepth(50)
	if err != nil {
		panic(err)
	}
	return build
}()

// declare creates ctx's variables (without values) by building the model on a throwaway graph.
func declare(b backends.Backend, ctx *context.Context, build models.BuildFunc, cfg models.Config, size int) {
	g := NewGraph(b, "declare")
	images := Parameter(g, "images", shapes.Make(dtypes.Float32, 1, size, size, 3))
	build(ctx, images, cfg)
}

func TestParameterCounts(t *testing.T) {
	b := newBackend(t)
	// torchvision's sum(p.numel() for p in resnetN().parameters()).
	want := map[int]int{18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
	for _, depth := range []int{18, 34, 50, 101, 152} {
		build, err := resnet.ForDepth(depth)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.New()
		declare(b, ctx, build, models.New(), 32)
		if got := nntest.CountTrainable(ctx); got != want[depth] {
			t.Errorf("ResNet%d with 1000 classes: %d trainable parameters, torchvision has %d", depth, got, want[depth])
		}
	}
	// Without a head: ResNet50 minus fc (2048*1000 + 1000).
	ctx := context.New()
	declare(b, ctx, resnet50, models.New().Classes(0), 32)
	if got, want := nntest.CountTrainable(ctx), 25_557_032-2_049_000; got != want {
		t.Errorf("ResNet50 features: %d trainable parameters, want %d", got, want)
	}
	if _, err := resnet.ForDepth(42); err == nil {
		t.Errorf("ForDepth(42) should fail")
	}
}

// TestTorchvisionParity runs ResNet50 with deterministic weights on deterministic inputs and compares
// logits and pooled features with torchvision's (testdata/gen_reference.py).
func TestTorchvisionParity(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping ResNet50 forward parity in -short mode")
	}
	ref, err := nntest.LoadReference("testdata/resnet50_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	b := newBackend(t)
	ctx := context.New()
	declare(b, ctx, resnet50, models.New(), 64)
	if got := nntest.CountTrainable(ctx); got != ref.NumParameters {
		t.Errorf("trainable parameters %d, torchvision %d", got, ref.NumParameters)
	}
	if err := nntest.Fill(ctx, ref); err != nil {
		t.Fatal(err)
	}
	logitsExec := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, images *Node) *Node {
		return resnet50(ctx, images, models.New())
	})
	featuresExec := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, images *Node) *Node {
		return resnet50(ctx, images, models.New().Classes(0))
	})
	maxSize := 224
	if os.Getenv("MLKIT_PARITY_MAXSIZE") != "" {
		_, _ = fmt.Sscan(os.Getenv("MLKIT_PARITY_MAXSIZE"), &maxSize)
	}
	for _, out := range ref.Outputs {
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
			y := c.exec.MustExec1(x)
			got := tensors.MustCopyFlatData[float32](y)
			errAbs, scale, err := nntest.Compare(got, c.want)
			if err != nil {
				t.Fatalf("%s, input %d: %v", c.what, out.InputIndex, err)
			}
			t.Logf("ResNet50 %s batch %d at %d px: max |GoMLX - torchvision| = %.3g (max |torchvision| = %.3g, relative %.2g), %s",
				c.what, out.Batch, out.Size, errAbs, scale, errAbs/scale, time.Since(start).Round(time.Millisecond))
			if errAbs > 1e-4*scale {
				t.Errorf("ResNet50 %s at %d px: max abs error %.3g exceeds 1e-4 x %.3g", c.what, out.Size, errAbs, scale)
			}
		}
	}
}

// gradientsSupported reports whether the backend can differentiate a convolution (the stock pure-Go
// backend lacks the Reverse op its gradient needs).
func gradientsSupported(b backends.Backend) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	e, err := NewExec(b, func(x, k *Node) []*Node {
		y := Convolve(x, k).Strides(1).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
		y = MaxPool(y).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
		return Gradient(ReduceAllSum(y), x, k)
	})
	if err != nil {
		return err
	}
	_, err = e.Exec(tensors.FromShape(shapes.Make(dtypes.Float32, 1, 4, 4, 2)), tensors.FromShape(shapes.Make(dtypes.Float32, 3, 3, 2, 2)))
	return err
}

// TestTrainingSmoke takes a few SGD steps on a tiny batch at 32 px and requires the loss to drop.
func TestTrainingSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping training smoke test in -short mode")
	}
	b := newBackend(t)
	if err := gradientsSupported(b); err != nil {
		t.Skipf("skipping: backend %q cannot compute convolution/max-pool gradients (%v); the improved pure-Go backend from mlkit/backend or XLA can", b.Name(), err)
	}
	ctx := context.New()
	ctx.SetParam(resnet.ParamZeroInitResidual, true)
	ctx.SetParam(context.ParamInitialSeed, int64(42))
	cfg := models.New().Classes(5).Size(32)
	opt := optimizers.StochasticGradientDescent().WithLearningRate(0.05).Done()
	step := context.MustNewExec(b, ctx, func(ctx *context.Context, images, labels *Node) *Node {
		g := images.Graph()
		ctx.SetTraining(g, true)
		logits := resnet50(ctx, images, cfg)
		loss := ReduceAllMean(losses.SparseCategoricalCrossEntropyLogits([]*Node{labels}, []*Node{logits}))
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	const batch = 4
	x := nntest.Input(7, batch, 32)
	y := tensors.FromValue([][]int32{{0}, {1}, {2}, {3}})
	var first, last float32
	for i := range 6 {
		loss := tensors.ToScalar[float32](step.MustExec1(x, y))
		if math.IsNaN(float64(loss)) {
			t.Fatalf("step %d: loss is NaN", i)
		}
		if i == 0 {
			first = loss
		}
		last = loss
		t.Logf("step %d: loss %.4f", i, loss)
	}
	if !(last < first) {
		t.Errorf("loss did not decrease over 6 SGD steps: first %.4f, last %.4f", first, last)
	}
}

// benchmarkForward measures eval-mode forward throughput (images/s) of ResNet50 with 1000 classes on
// the default backend; the first call (graph build and compilation) is not timed.
func benchmarkForward(b *testing.B, batch, size int) {
	be := newBackend(b)
	ctx := context.New()
	e := context.MustNewExec(be, ctx, func(ctx *context.Context, images *Node) *Node {
		return resnet50(ctx, images, models.New())
	})
	x := nntest.Input(0, batch, size)
	e.MustExec1(x)
	b.ResetTimer()
	for b.Loop() {
		e.MustExec1(x)
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkTrain64Batch8 is the bench's resnet50_train_64 cell on the default backend.
func BenchmarkTrain64Batch8(b *testing.B) {
	cfg := models.New().Classes(5).Size(64)
	nntest.BenchmarkTrainStep(b, newBackend(b), func(ctx *context.Context, x *Node) *Node { return resnet50(ctx, x, cfg) }, 8, 64)
}

// BenchmarkTrain224Batch8 is the bench's resnet50_train_224 cell on the default backend.
func BenchmarkTrain224Batch8(b *testing.B) {
	cfg := models.New().Classes(5).Size(224)
	nntest.BenchmarkTrainStep(b, newBackend(b), func(ctx *context.Context, x *Node) *Node { return resnet50(ctx, x, cfg) }, 8, 224)
}

func BenchmarkForward64Batch8(b *testing.B)  { benchmarkForward(b, 8, 64) }
func BenchmarkForward224Batch2(b *testing.B) { benchmarkForward(b, 2, 224) }

// writeSafetensors writes the reference's deterministic state dict (plus a num_batches_tracked per BN,
// as torch.save would) in the safetensors format.
func writeSafetensors(t *testing.T, ref *nntest.Reference, path string) {
	t.Helper()
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	add := func(name, dtype string, shape []int, raw []byte) {
		header[name] = map[string]any{"dtype": dtype, "shape": shape, "data_offsets": []int{len(data), len(data) + len(raw)}}
		data = append(data, raw...)
	}
	for k, p := range ref.Params {
		vals, err := nntest.Values(p.Name, k, p.Shape)
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		add(p.Name, "F32", p.Shape, raw)
		if strings.HasSuffix(p.Name, ".running_var") {
			add(strings.TrimSuffix(p.Name, "running_var")+"num_batches_tracked", "I64", []int{}, make([]byte, 8))
		}
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadTorchSafetensors loads a torchvision-style state dict from safetensors and checks the model
// then reproduces torchvision's logits; a state dict with a missing tensor must be refused.
func TestLoadTorchSafetensors(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: writes and loads a 100 MB state dict")
	}
	ref, err := nntest.LoadReference("testdata/resnet50_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "resnet50.safetensors")
	writeSafetensors(t, ref, path)
	b := newBackend(t)
	ctx := context.New()
	cfg := models.New().Size(64)
	if err := nn.Declare(b, ctx, resnet50, cfg); err != nil {
		t.Fatal(err)
	}
	if err := nn.LoadTorchSafetensors(ctx, path); err != nil {
		t.Fatal(err)
	}
	out := ref.Outputs[0]
	got := tensors.MustCopyFlatData[float32](context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, images *Node) *Node {
		return resnet50(ctx, images, cfg)
	}).MustExec1(nntest.Input(out.InputIndex, out.Batch, out.Size)))
	errAbs, scale, err := nntest.Compare(got, out.Logits)
	if err != nil {
		t.Fatal(err)
	}
	if errAbs > 1e-4*scale {
		t.Errorf("after loading safetensors: max abs error %.3g vs torchvision (scale %.3g)", errAbs, scale)
	}
	// A ResNet18 context cannot take ResNet50's tensors.
	r18, _ := resnet.ForDepth(18)
	ctx18 := context.New()
	if err := nn.Declare(b, ctx18, r18, cfg); err != nil {
		t.Fatal(err)
	}
	if err := nn.LoadTorchSafetensors(ctx18, path); err == nil {
		t.Errorf("loading ResNet50 weights into ResNet18 should fail")
	} else {
		t.Logf("expected error: %.200s", err)
	}
}

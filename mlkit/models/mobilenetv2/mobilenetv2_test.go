package mobilenetv2

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/default"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/internal/testshared"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/weights/tfjs"
)

func TestMakeDivisibleAndShapes(t *testing.T) {
	// Values from keras.applications.MobileNetV2.
	for _, c := range []struct {
		alpha        float64
		first, last  int
		block16, b1x int
	}{
		{0.35, 16, 1280, 112, 8}, {0.5, 16, 1280, 160, 8}, {0.75, 24, 1280, 240, 16},
		{1.0, 32, 1280, 320, 16}, {1.3, 40, 1664, 416, 24}, {1.4, 48, 1792, 448, 24},
	} {
		if got := FirstFilters(c.alpha); got != c.first {
			t.Errorf("alpha %g: Conv1 filters %d, want %d", c.alpha, got, c.first)
		}
		if got := LastFilters(c.alpha); got != c.last {
			t.Errorf("alpha %g: Conv_1 filters %d, want %d", c.alpha, got, c.last)
		}
		if got := BlockFilters(Blocks[16], c.alpha); got != c.block16 {
			t.Errorf("alpha %g: block_16 filters %d, want %d", c.alpha, got, c.block16)
		}
		if got := BlockFilters(Blocks[0], c.alpha); got != c.b1x {
			t.Errorf("alpha %g: expanded_conv filters %d, want %d", c.alpha, got, c.b1x)
		}
	}
	if n := len(WeightShapes(1.0)); n != 52+52*4 {
		t.Errorf("WeightShapes has %d entries, want 260", n)
	}
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func fixtureInputs(t *testing.T) (*tensors.Tensor, int) {
	t.Helper()
	u8, err := os.ReadFile(filepath.Join("testdata", "inputs.u8"))
	if err != nil {
		t.Fatal(err)
	}
	per := DefaultSize * DefaultSize * 3
	n := len(u8) / per
	data := make([]float32, len(u8))
	for i, v := range u8 {
		data[i] = ScalePixel(v)
	}
	return tensors.FromFlatDataAndDimensions(data, n, DefaultSize, DefaultSize, 3), n
}

func compare(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var maxAbs, maxRef float64
	for i := range want {
		maxAbs = math.Max(maxAbs, math.Abs(float64(got[i]-want[i])))
		maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
	}
	t.Logf("%s: max abs error %.3g (max |reference| %.3g, relative %.3g)", what, maxAbs, maxRef, maxAbs/maxRef)
	if maxAbs > 1e-4*math.Max(1, maxRef) {
		t.Errorf("%s: max abs error %.3g exceeds 1e-4 x max(1, %.3g)", what, maxAbs, maxRef)
	}
}

// TestParityWithTFJS runs the real weights on the fixture inputs and compares with TensorFlow.js.
func TestParityWithTFJS(t *testing.T) {
	dir := testshared.MobileNetV2(t)
	wantEmb := readF32(t, filepath.Join("testdata", "embeddings.f32"))
	wantCorner := readF32(t, filepath.Join("testdata", "out_relu_corner.f32"))
	for _, cfg := range []string{"go", "xla:cpu"} {
		t.Run(cfg, func(t *testing.T) {
			b, err := backends.NewWithConfig(cfg)
			if err != nil {
				t.Skipf("backend %s unavailable: %v", cfg, err)
			}
			ctx := context.New()
			if err := LoadTFJS(ctx, dir); err != nil {
				t.Fatal(err)
			}
			x, n := fixtureInputs(t)
			outs := context.MustExecOnceN(b, ctx, func(ctx *context.Context, images *Node) []*Node {
				feat := Backbone(ctx, images, 0.35)
				corner := Reshape(Slice(feat, AxisRange(), AxisElem(0), AxisElem(0), AxisRange()), n, -1)
				return []*Node{ReduceMean(feat, 1, 2), corner}
			}, x)
			compare(t, "embedding", tensors.MustCopyFlatData[float32](outs[0]), wantEmb)
			compare(t, "out_relu[:,0,0,:]", tensors.MustCopyFlatData[float32](outs[1]), wantCorner)

			// Build (the family constructor) gives the same pooled features.
			emb := context.MustExecOnce(b, ctx, func(ctx *context.Context, images *Node) *Node {
				return Build(ctx, images, models.New().Classes(0).WithWidth(0.35))
			}, x)
			compare(t, "Build features", tensors.MustCopyFlatData[float32](emb), wantEmb)
		})
	}
}

func TestLoadChecksShapes(t *testing.T) {
	dir := testshared.MobileNetV2(t)
	m, err := tfjs.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if alpha, err := DetectWidth(m); err != nil || alpha != 0.35 {
		t.Fatalf("DetectWidth = %g, %v; want 0.35", alpha, err)
	}
	// A graph built for alpha 1.0 cannot take alpha 0.35 weights.
	b, err := backends.NewWithConfig("go")
	if err != nil {
		t.Skip(err)
	}
	ctx := context.New()
	_ = context.MustExecOnce(b, ctx, func(ctx *context.Context, images *Node) *Node {
		return Build(ctx, images, models.New().Classes(0).Size(32))
	}, tensors.FromShape(shapes.Make(dtypes.Float32, 1, 32, 32, 3)))
	if _, err := LoadTFJSModel(ctx, m); err == nil {
		t.Error("loading alpha 0.35 weights into an alpha 1.0 graph succeeded")
	}
	// A corrupted shape is reported by name.
	m.Weights["block_5_project/kernel"].Shape = []int{1, 1, 96, 17}
	if _, err := DetectWidth(m); err == nil {
		t.Error("DetectWidth accepted a wrong shape")
	} else {
		t.Logf("error as expected: %v", err)
	}
}

func TestPreprocessImage(t *testing.T) {
	// 300x200 image: left 50 px red, centre 200 px green, right 50 px blue. The centre crop keeps green only.
	img := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			c := color.NRGBA{0, 255, 0, 255}
			if x < 50 {
				c = color.NRGBA{255, 0, 0, 255}
			} else if x >= 250 {
				c = color.NRGBA{0, 0, 255, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	v := PreprocessImage(img, 64)
	if len(v) != 64*64*3 {
		t.Fatalf("len %d", len(v))
	}
	for i := 0; i < len(v); i += 3 {
		if v[i] != -1 || v[i+1] != 1 || v[i+2] != -1 {
			t.Fatalf("pixel %d = %v, want pure green scaled to (-1, 1, -1)", i/3, v[i:i+3])
		}
	}
	if ScalePixel(0) != -1 || ScalePixel(255) != 1 {
		t.Errorf("ScalePixel range wrong")
	}
	bt, err := PreprocessBatch([]image.Image{img}, 32, 4)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(bt.Shape().Dimensions) != "[4 32 32 3]" {
		t.Errorf("batch shape %v", bt.Shape().Dimensions)
	}
}

// BenchmarkEmbed measures embedding throughput at 224 px, batch 8 and 32, on backend.Default()
// (MLKIT_BACKEND=go or xla:cpu to choose).
func BenchmarkEmbed(b *testing.B) {
	dir := testshared.MobileNetV2(b)
	be, info, err := backend.Default()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("backend %s (%s)", info.Name, info.Reason)
	ctx := context.New()
	if err := LoadTFJS(ctx, dir); err != nil {
		b.Fatal(err)
	}
	exec := context.MustNewExec(be, ctx, func(ctx *context.Context, images *Node) *Node {
		return Build(ctx, images, models.New().Classes(0).WithWidth(0.35))
	})
	for _, batch := range []int{8, 32} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			x := tensors.FromShape(shapes.Make(dtypes.Float32, batch, DefaultSize, DefaultSize, 3))
			exec.MustExec(x) // compile
			b.ResetTimer()
			for range b.N {
				exec.MustExec(x)
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// TestTrainingModeAndHead builds the training graph (batch statistics through GoMLX's batchnorm layer)
// and the classification head, forward only (the pure-Go backend has no convolution gradients).
func TestTrainingModeAndHead(t *testing.T) {
	b, err := backends.NewWithConfig("go")
	if err != nil {
		t.Skip(err)
	}
	ctx := context.New()
	r := make([]float32, 2*32*32*3)
	for i := range r {
		r[i] = float32(i%17)/8 - 1
	}
	x := tensors.FromFlatDataAndDimensions(r, 2, 32, 32, 3)
	outs := context.MustExecOnceN(b, ctx, func(ctx *context.Context, images *Node) []*Node {
		g := images.Graph()
		infer := Build(ctx, images, models.New().Classes(5).WithWidth(0.35))
		ctx.SetTraining(g, true)
		train := Build(ctx, images, models.New().Classes(5).WithWidth(0.35))
		return []*Node{infer, train}
	}, x)
	for i, o := range outs {
		if fmt.Sprint(o.Shape().Dimensions) != "[2 5]" {
			t.Fatalf("output %d shape %v, want [2 5]", i, o.Shape().Dimensions)
		}
		for _, v := range tensors.MustCopyFlatData[float32](o) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("output %d has non-finite values", i)
			}
		}
	}
	// Freshly initialised batch norm (mean 0, variance 1) differs from batch statistics: the two graphs
	// must not compute the same thing.
	a, c := tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])
	same := true
	for i := range a {
		if math.Abs(float64(a[i]-c[i])) > 1e-6 {
			same = false
		}
	}
	if same {
		t.Error("training and inference graphs gave identical outputs: batch statistics not used")
	}
	if v := ctx.GetVariableByScopeAndName("/block_3_depthwise_BN", "variance"); v == nil {
		t.Error("batch-norm variables not named after the Keras layers")
	}
}

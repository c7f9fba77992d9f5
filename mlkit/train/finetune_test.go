package train

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/nn/nntest"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// tinyConvFT is a two-convolution network in torchvision naming ("conv1.weight", "conv2.weight", "fc.*"):
// a stand-in for ResNet/EfficientNet whose state dict a test can write.
var tinyConvFT = zoo.MustRegister(zoo.Spec{Name: "tiny_conv_finetune_test", Normalization: models.NormUnit, Size: 16,
	Build: func(ctx *context.Context, x *Node, cfg models.Config) *Node {
		g := x.Graph()
		k1 := ctx.In("conv1").VariableWithShape("weight", shapes.Make(x.DType(), 3, 3, 3, 4)).ValueGraph(g)
		y := Convolve(x, k1).Strides(1).PadSame().Done()
		y = Max(y, ScalarZero(g, y.DType()))
		k2 := ctx.In("conv2").VariableWithShape("weight", shapes.Make(x.DType(), 1, 1, 4, 6)).ValueGraph(g)
		y = ReduceMean(Convolve(y, k2).Strides(1).PadSame().Done(), 1, 2)
		if cfg.NumClasses > 0 {
			y = layers.Dense(ctx.In("fc"), y, true, cfg.NumClasses)
		}
		return y
	}})

// tinyState returns a torchvision-layout state dict for tinyConvFT, with an ImageNet-sized classifier.
func tinyState(seed uint64) []nntest.StateTensor {
	r := rand.New(rand.NewPCG(seed, 1))
	t := func(name string, shape ...int) nntest.StateTensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.3)
		}
		return nntest.StateTensor{Name: name, Shape: shape, Values: v}
	}
	return []nntest.StateTensor{t("conv1.weight", 4, 3, 3, 3), t("conv2.weight", 6, 4, 1, 1), t("fc.weight", 1000, 6), t("fc.bias", 1000)}
}

func writeState(t *testing.T, state []nntest.StateTensor) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "weights.safetensors")
	if err := nntest.WriteSafetensors(path, state); err != nil {
		t.Fatal(err)
	}
	return path
}

// colourImages writes n 16x16 PNGs per class, reddish for class 0 and bluish for class 1, with noise.
func colourImages(t *testing.T, n int, seed uint64) []Example {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(seed, 2))
	var out []Example
	for i := range 2 * n {
		label := i % 2
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for y := range 16 {
			for x := range 16 {
				base := [3]float64{60, 60, 60}
				base[2*label] = 190
				c := func(k int) uint8 { return uint8(math.Max(0, math.Min(255, base[k]+40*r.NormFloat64()))) }
				img.Set(x, y, color.RGBA{c(0), c(1), c(2), 255})
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(t.Name())+string(rune('a'+i%26))+string(rune('a'+i/26))+".png")
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, Example{ID: int64(i + 1), Path: p, Label: label})
	}
	return out
}

// snapshot copies every model variable's values.
func snapshot(t *testing.T, ctx *context.Context) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for v := range ctx.IterVariables() {
		if !isModelVar(v) || !v.DType().IsFloat() {
			continue
		}
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		out[v.ScopeAndName()] = tensors.MustCopyFlatData[float32](val)
	}
	return out
}

// snapshotAfterPrepare makes e's prepare step also record every model variable as the run starts (in the
// returned map, filled when e fits).
func snapshotAfterPrepare(t *testing.T, e *engine) map[string][]float32 {
	start := map[string][]float32{}
	prepare := e.prepare
	e.prepare = func(ctx *context.Context, fresh bool) error {
		if err := prepare(ctx, fresh); err != nil {
			return err
		}
		maps.Copy(start, snapshot(t, ctx))
		return nil
	}
	return start
}

func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// TestFineTuneStartsFromWeightsFreezesAndScalesLR: the unfrozen phase starts from the safetensors
// file's backbone (torchvision layout, transposed; its ImageNet classifier left out) untouched by the
// frozen phase, and from the frozen phase's trained head; one AdamW step then moves each backbone weight
// by at most LR / BackboneLRFactor and each head weight by up to LR. The saved model loads and predicts
// as the trained one.
func TestFineTuneStartsFromWeightsFreezesAndScalesLR(t *testing.T) {
	state := tinyState(1)
	path := writeState(t, state)
	data := colourImages(t, 6, 3)
	tr, va := data[:8], data[8:]
	const lr, factor = 1e-2, 100
	out := t.TempDir()
	f := FineTune(tinyConvFT, models.New().Size(16)).Data([]string{"red", "blue"}, tr, va).Weights(path).
		FrozenEpochs(30).BackboneLRFactor(factor).NoAugment().
		With(FineTuneDefaults().Epochs(1).BatchSize(len(tr)).LR(lr).WeightDecay(0).Schedule("constant").
			Backend(testBackend(t)).Quiet().OutputDir(out))
	e, frozen, _, err := f.newEngine()
	if err != nil {
		t.Fatal(err)
	}
	if h := frozen.History; len(h) != 30 || !(h[len(h)-1].TrainLoss < h[0].TrainLoss) {
		t.Fatalf("frozen phase: %d epochs, loss %v -> %v", len(h), h[0].TrainLoss, h[len(h)-1].TrainLoss)
	}
	start := snapshotAfterPrepare(t, e)
	res, err := e.fit()
	if err != nil {
		t.Fatal(err)
	}
	// Loaded: /model/backbone/conv1/weight [kh,kw,in,out] is the file's [out,in,kh,kw], transposed.
	k1 := start["/model/backbone/conv1/weight"]
	if len(k1) != 108 {
		t.Fatalf("backbone conv1 has %d values (variables: %v)", len(k1), keys(start))
	}
	for kh := range 3 {
		for kw := range 3 {
			for i := range 3 {
				for o := range 4 {
					got, want := k1[((kh*3+kw)*3+i)*4+o], state[0].Values[((o*3+i)*3+kh)*3+kw]
					if got != want {
						t.Fatalf("conv1[%d,%d,%d,%d] = %v, file has %v", kh, kw, i, o, got, want)
					}
				}
			}
		}
	}
	k2 := start["/model/backbone/conv2/weight"] // [1,1,in,out] from [out,in,1,1]
	for i := range 4 {
		for o := range 6 {
			if k2[i*6+o] != state[1].Values[o*4+i] {
				t.Fatalf("conv2[0,0,%d,%d] = %v, file has %v", i, o, k2[i*6+o], state[1].Values[o*4+i])
			}
		}
	}
	for name := range start {
		if strings.Contains(name, "/fc/") {
			t.Errorf("the ImageNet classifier was loaded: %s", name)
		}
	}
	// The head starts as the frozen phase left it.
	headFrozen := snapshot(t, frozen.Predictor.Context())
	for _, name := range []string{"/model/logits/weights", "/model/logits/biases"} {
		if len(headFrozen[name]) == 0 || maxAbsDiff(start[name], headFrozen[name]) != 0 {
			t.Errorf("%s at the start of the unfrozen phase differs from the frozen phase's", name)
		}
	}
	// One AdamW step: |update| = lr * scale for every weight with a gradient.
	end := snapshot(t, res.Predictor.Context())
	for name, before := range start {
		if strings.Contains(name, "#") {
			continue
		}
		d := maxAbsDiff(before, end[name])
		want := lr
		if strings.HasPrefix(name, "/model/backbone/") {
			want = lr / factor
		}
		if !(d > 0.5*want && d <= want*1.001) {
			t.Errorf("%s moved by %.3g in one step, want about %.3g (learning rate %g, backbone / %d)", name, d, want, lr, factor)
		}
	}
	// Saved: Load predicts what the trained model predicts.
	loaded, err := LoadOn(out, testBackend(t))
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Config().Kind != KindFineTune {
		t.Errorf("saved kind %q", loaded.Config().Kind)
	}
	paths := []string{va[0].Path, va[1].Path}
	p1, err := res.Predictor.Predict(paths)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := loaded.Predict(paths)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p1 {
		if maxAbsDiff(p1[i], p2[i]) > 1e-5 {
			t.Errorf("loaded model predicts %v, trained one %v", p2[i], p1[i])
		}
	}
	saved, err := SavedResult(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved.History) != 31 || saved.BestEpoch != 31 || saved.History[30].Epoch != 31 {
		t.Errorf("saved history: %d epochs, best %d", len(saved.History), saved.BestEpoch)
	}
}

func keys(m map[string][]float32) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestFineTuneBadWeights: a missing file, a tensor of the wrong shape, a tensor the model does not
// have, weights of another format, and a family without default weights are refused, naming the problem.
func TestFineTuneBadWeights(t *testing.T) {
	b := testBackend(t)
	cfg := models.New().Size(16)
	if _, err := LoadPretrained(b, tinyConvFT, cfg, "/nonexistent/weights.safetensors"); err == nil || !strings.Contains(err.Error(), "/nonexistent/weights.safetensors") {
		t.Errorf("missing file: %v", err)
	}
	wrong := tinyState(1)
	wrong[0].Shape, wrong[0].Values = []int{4, 3, 5, 5}, make([]float32, 300)
	if _, err := LoadPretrained(b, tinyConvFT, cfg, writeState(t, wrong)); err == nil || !strings.Contains(err.Error(), "conv1.weight") {
		t.Errorf("wrong shape: %v", err)
	}
	extra := append(tinyState(1), nntest.StateTensor{Name: "layer9.weight", Shape: []int{2}, Values: []float32{1, 2}})
	if _, err := LoadPretrained(b, tinyConvFT, cfg, writeState(t, extra)); err == nil || !strings.Contains(err.Error(), "layer9.weight") {
		t.Errorf("a tensor the model lacks: %v", err)
	}
	missing := tinyState(1)[1:]
	if _, err := LoadPretrained(b, tinyConvFT, cfg, writeState(t, missing)); err == nil || !strings.Contains(err.Error(), "conv1.weight") {
		t.Errorf("a missing tensor: %v", err)
	}
	if p, err := LoadPretrained(b, tinyConvFT, cfg, writeState(t, tinyState(1))); err != nil || p.Len() != 2 {
		t.Errorf("good file: %v (%d tensors)", err, p.Len())
	}
	if dir, err := embed.MobileNetV2Dir("", 0.35, true); err == nil {
		if _, err := LoadPretrained(b, tinyConvFT, cfg, dir); err == nil || !strings.Contains(err.Error(), "cannot be loaded") {
			t.Errorf("TF.js MobileNetV2 into another network: %v", err)
		}
	}
	data := colourImages(t, 2, 1)
	_, err := FineTune(zoo.MustLookup("resnet18"), models.New().Size(32)).Data([]string{"red", "blue"}, data, nil).
		With(FineTuneDefaults().Backend(b).Quiet()).Fit()
	if err == nil || !strings.Contains(err.Error(), "safetensors") {
		t.Errorf("resnet18 without weights: %v", err)
	}
}

// TestFineTuneMobileNetFeaturesMatchEmbedder: the fine-tuned MobileNetV2-0.35 backbone, loaded from the
// shared TF.js weights, computes the embedder's features on the same image before any training.
func TestFineTuneMobileNetFeaturesMatchEmbedder(t *testing.T) {
	dir, err := embed.MobileNetV2Dir("", 0.35, true)
	if err != nil {
		t.Skipf("no MobileNetV2-0.35 weights: %v", err)
	}
	b := testBackend(t)
	const size = 224
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	r := rand.New(rand.NewPCG(5, 5))
	for y := range size {
		for x := range size {
			img.Set(x, y, color.NRGBA{uint8(x + y), uint8(2 * y), uint8(r.IntN(256)), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "img.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fam := zoo.MustLookup(embed.MobileNetV2035)
	pre, err := LoadPretrained(b, fam, models.New().Size(size), dir)
	if err != nil {
		t.Fatal(err)
	}
	ex := []Example{{ID: 1, Path: path}}
	src, err := newImageSource(pipeline.Cache{Dir: t.TempDir()}, ex, size, pipeline.AugmentOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := RunConfig{Model: models.New().Size(size), Normalization: fam.Normalization, Frozen: &Settings{BatchSize: 1}}
	cfg.BatchSize = 1
	feats, _, err := pre.features(b, fam, cfg, src, nil, ex, nil)
	if err != nil {
		t.Fatal(err)
	}
	em, err := embed.NewMobileNetV2(embed.NewOptions().WithWidth(0.35).WithDir(dir).WithBackend(b).WithBatchSize(1))
	if err != nil {
		t.Fatal(err)
	}
	want, err := em.EmbedImages([]image.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	got := feats[0].Vector
	if len(got) != len(want[0]) {
		t.Fatalf("features have %d values, the embedder's %d", len(got), len(want[0]))
	}
	d, scale := maxAbsDiff(got, want[0]), 0.0
	for _, v := range want[0] {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	if d > 1e-3*scale {
		t.Errorf("backbone features differ from the embedder's by %.3g (scale %.3g)", d, scale)
	}
}

// TestFineTuneBackboneGroupsSpreadLR: with 2 backbone groups and factor 100 (fastai's fine_tune), one
// AdamW step moves the first backbone tensor (conv1) by about LR/100, the second (conv2) by LR/10 and the
// head by LR; an invalid group count is an error naming it.
func TestFineTuneBackboneGroupsSpreadLR(t *testing.T) {
	path := writeState(t, tinyState(2))
	data := colourImages(t, 6, 3)
	tr, va := data[:8], data[8:]
	const lr, factor = 1e-2, 100
	f := FineTune(tinyConvFT, models.New().Size(16)).Data([]string{"red", "blue"}, tr, va).Weights(path).
		FrozenEpochs(5).BackboneLRFactor(factor).BackboneGroups(2).NoAugment().
		With(FineTuneDefaults().Epochs(1).BatchSize(len(tr)).LR(lr).WeightDecay(0).Schedule("constant").
			Backend(testBackend(t)).Quiet())
	e, _, _, err := f.newEngine()
	if err != nil {
		t.Fatal(err)
	}
	start := snapshotAfterPrepare(t, e)
	res, err := e.fit()
	if err != nil {
		t.Fatal(err)
	}
	if g := res.Predictor.Config().BackboneGroups; g != 2 {
		t.Errorf("the model's config has %d backbone groups", g)
	}
	end := snapshot(t, res.Predictor.Context())
	want := map[string]float64{"/model/backbone/conv1/weight": lr / 100, "/model/backbone/conv2/weight": lr / 10,
		"/model/logits/weights": lr, "/model/logits/biases": lr}
	for name, w := range want {
		d := maxAbsDiff(start[name], end[name])
		if !(d > 0.5*w && d <= w*1.001) {
			t.Errorf("%s moved by %.3g in one step, want about %.3g", name, d, w)
		}
	}
	for _, n := range []int{-1, MaxBackboneGroups + 1} {
		_, err := FineTune(tinyConvFT, models.New().Size(16)).Data([]string{"red", "blue"}, tr, va).Weights(path).
			BackboneGroups(n).With(FineTuneDefaults().Backend(testBackend(t)).Quiet()).Fit()
		if err == nil || !strings.Contains(err.Error(), "backbone groups") {
			t.Errorf("BackboneGroups(%d): %v", n, err)
		}
	}
}

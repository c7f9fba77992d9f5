package train

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/visionnb/visionnb/mlkit/internal/testshared"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// testDenseFamily is a dense-only "CNN" (flatten -> dropout -> dense): it trains on every backend, so the
// deep loop, checkpoints and resume are tested even where convolution gradients are unavailable.
var testDenseFamily = zoo.MustRegister(zoo.Spec{Name: "test-dense", Normalization: models.NormImageNet,
	Build: func(ctx *context.Context, images *Node, cfg models.Config) *Node {
		x := Reshape(images, images.Shape().Dimensions[0], -1)
		x = layers.DropoutStatic(ctx, x, cfg.Dropout)
		return layers.Dense(ctx.In("logits"), x, true, cfg.NumClasses)
	}})

// testSmallCNN is a small CNN with the model families' Build signature: two strided 3x3 convolutions,
// global average pooling, dropout, dense.
var testSmallCNN = zoo.MustRegister(zoo.Spec{Name: "test-smallcnn", Normalization: models.NormImageNet,
	Build: func(ctx *context.Context, images *Node, cfg models.Config) *Node {
		x := images
		for i, filters := range []int{8, 16} {
			x = layers.Convolution(ctx.In(fmt.Sprintf("conv%d", i)), x).Filters(filters).KernelSize(3).Strides(2).PadSame().Done()
			x = activations.Relu(x)
		}
		x = ReduceMean(x, 1, 2)
		x = layers.DropoutStatic(ctx, x, cfg.Dropout)
		return layers.Dense(ctx.In("logits"), x, true, cfg.NumClasses)
	}})

// animals returns perClass training and valPerClass validation examples per class from the shared
// photos (sorted file names: deterministic).
func animals(t testing.TB, perClass, valPerClass int) (classes []string, trainSet, valSet []Example) {
	t.Helper()
	dir := testshared.Animals5(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := int64(0)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		label := len(classes)
		classes = append(classes, e.Name())
		files, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*"))
		sort.Strings(files)
		if len(files) < perClass+valPerClass {
			t.Fatalf("class %s has %d photos, need %d", e.Name(), len(files), perClass+valPerClass)
		}
		for i, f := range files[:perClass+valPerClass] {
			id++
			ex := Example{ID: id, Path: f, Label: label}
			if i < perClass {
				trainSet = append(trainSet, ex)
			} else {
				valSet = append(valSet, ex)
			}
		}
	}
	return classes, trainSet, valSet
}

// requireConvGradients skips when the backend cannot differentiate convolutions.
func requireConvGradients(t *testing.T) {
	t.Helper()
	if err := ConvGradientSupported(testBackend(t)); err != nil {
		t.Skipf("skipping CNN training: %v (use the XLA backend or mlkit's pure-Go backend)", err)
	}
}

func TestDeepDenseLossDecreases(t *testing.T) {
	classes, trainSet, valSet := animals(t, 8, 2)
	cache := t.TempDir()
	res, err := Deep(testDenseFamily, models.New().Size(32)).Data(classes, trainSet, valSet).CacheDir(cache).NoAugment().
		With(DeepDefaults().Backend(testBackend(t)).LR(1e-3).Epochs(6).BatchSize(8).Seed(1).Quiet()).Fit()
	if err != nil {
		t.Fatal(err)
	}
	h := res.History
	if len(h) != 6 || !h[0].HasVal {
		t.Fatalf("history %+v", h)
	}
	if !(h[5].TrainLoss < h[0].TrainLoss*0.7) {
		t.Errorf("training loss did not decrease enough: %.4f -> %.4f", h[0].TrainLoss, h[5].TrainLoss)
	}
	// The cache holds one file per image.
	files, _ := filepath.Glob(filepath.Join(cache, "*_32.rgb"))
	if len(files) != len(trainSet)+len(valSet) {
		t.Errorf("cache has %d files, want %d", len(files), len(trainSet)+len(valSet))
	}
}

func TestDeepSmallCNN(t *testing.T) {
	requireConvGradients(t)
	classes, trainSet, valSet := animals(t, 8, 2)
	for _, size := range []int{32, 64} {
		res, err := Deep(testSmallCNN, models.New().Size(size)).Data(classes, trainSet, valSet).CacheDir(t.TempDir()).
			With(DeepDefaults().Backend(testBackend(t)).Optimizer("sgd").Momentum(0.9).LR(0.05).WarmupEpochs(1).
				LabelSmoothing(0.1).Epochs(5).BatchSize(8).Seed(2).Quiet()).Fit()
		if err != nil {
			t.Fatal(err)
		}
		h := res.History
		t.Logf("small CNN at %d px on %s: %.1f img/s (last epoch), loss %.3f -> %.3f", size, res.Backend,
			h[len(h)-1].ExamplesPerSecond, h[0].TrainLoss, h[len(h)-1].TrainLoss)
		if !(h[len(h)-1].TrainLoss < h[0].TrainLoss) {
			t.Errorf("%d px: training loss did not decrease: %+v", size, h)
		}
	}
}

// deepRun is the configuration shared by the reproducibility and resume tests (augmentation and dropout
// on, so that data order, augmentation and the graph's random state all matter), with options opts
// (deepOptions, changed).
func deepRun(classes []string, trainSet, valSet []Example, opts Options) *DeepBuilder {
	return Deep(testDenseFamily, models.New().Size(32).WithDropout(0.2)).Data(classes, trainSet, valSet).
		CacheDir(filepath.Join(os.TempDir(), "mlkit-train-test-cache")).With(opts)
}

// deepOptions are deepRun's usual options, saving in dir ("": nowhere).
func deepOptions(t testing.TB, dir string) Options {
	return DeepDefaults().Backend(testBackend(t)).OutputDir(dir).Optimizer("adamw").LR(1e-3).WarmupEpochs(0.5).
		LabelSmoothing(0.1).Epochs(4).BatchSize(8).Seed(7).Dataset("animals5 first 8+2 per class").Quiet()
}

func modelWeights(t testing.TB, p *Predictor) map[string][]float32 {
	out := map[string][]float32{}
	for v := range p.Context().IterVariables() {
		if !isModelVar(v) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		out[v.ScopeAndName()] = tensors.MustCopyFlatData[float32](val)
	}
	if len(out) == 0 {
		t.Fatal("no model variables")
	}
	return out
}

func maxDiff(t testing.TB, a, b map[string][]float32) float64 {
	var d float64
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(vb) != len(va) {
			t.Fatalf("variable %s missing or resized", k)
		}
		for i := range va {
			d = math.Max(d, math.Abs(float64(va[i]-vb[i])))
		}
	}
	return d
}

func TestDeepReproducible(t *testing.T) {
	classes, trainSet, valSet := animals(t, 8, 2)
	a, err := deepRun(classes, trainSet, valSet, deepOptions(t, t.TempDir()).Epochs(2)).Fit()
	if err != nil {
		t.Fatal(err)
	}
	b, err := deepRun(classes, trainSet, valSet, deepOptions(t, "").Epochs(2)).Fit()
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.History {
		if a.History[i].TrainLoss != b.History[i].TrainLoss || a.History[i].ValLoss != b.History[i].ValLoss {
			t.Errorf("epoch %d differs: %+v vs %+v", i+1, a.History[i], b.History[i])
		}
	}
	if d := maxDiff(t, modelWeights(t, a.Predictor), modelWeights(t, b.Predictor)); d != 0 {
		t.Errorf("same seed, weights differ by %g", d)
	}
	c, err := deepRun(classes, trainSet, valSet, deepOptions(t, "").Epochs(2).Seed(8)).Fit()
	if err != nil {
		t.Fatal(err)
	}
	if c.History[1].TrainLoss == a.History[1].TrainLoss {
		t.Error("a different seed gave the same loss")
	}
}

// TestHelperKilledTraining is not a test: TestDeepResumeAfterKill runs the test binary again with
// MLKIT_TRAIN_KILL_DIR set, and this function then trains into that directory, signals after a few steps
// of epoch 2 (epoch 1's checkpoint is on disk) and waits to be killed.
func TestHelperKilledTraining(t *testing.T) {
	dir := os.Getenv("MLKIT_TRAIN_KILL_DIR")
	if dir == "" {
		t.Skip("helper process for TestDeepResumeAfterKill")
	}
	classes, trainSet, valSet := animals(t, 8, 2)
	p := ProgressFuncs{OnStep: func(s StepInfo) {
		if s.Epoch == 2 && s.Step == 2 {
			if err := os.WriteFile(filepath.Join(dir, "killme"), nil, 0o644); err != nil {
				panic(err)
			}
			time.Sleep(time.Hour) // Killed here, mid-epoch, with unsaved progress in memory.
		}
	}}
	_, err := deepRun(classes, trainSet, valSet, deepOptions(t, dir).Progress(p)).Fit()
	t.Fatalf("helper training returned instead of being killed: %v", err)
}

func TestDeepResumeAfterKill(t *testing.T) {
	classes, trainSet, valSet := animals(t, 8, 2)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledTraining$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MLKIT_TRAIN_KILL_DIR="+dir)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(5 * time.Minute)
	for ready := false; !ready; {
		select {
		case err := <-exited:
			t.Fatalf("helper exited (%v) before epoch 2; output:\n%s", err, out)
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("helper never reached epoch 2; output:\n%s", out)
		case <-time.After(50 * time.Millisecond):
			_, err := os.Stat(filepath.Join(dir, "killme"))
			ready = err == nil
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to clean up.
		t.Fatal(err)
	}
	<-exited
	var hist history
	if err := readJSON(filepath.Join(dir, HistoryFile), &hist); err != nil || len(hist.Epochs) != 1 || hist.Finished {
		t.Fatalf("after the kill, history.json = %+v (err %v), want one unfinished epoch", hist, err)
	}

	resumed, err := deepRun(classes, trainSet, valSet, deepOptions(t, dir)).Fit()
	if err != nil {
		t.Fatal(err)
	}
	if resumed.ResumedFromEpoch != 1 {
		t.Errorf("resumed from epoch %d, want 1", resumed.ResumedFromEpoch)
	}
	straight, err := deepRun(classes, trainSet, valSet, deepOptions(t, t.TempDir())).Fit()
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed.History) != 4 || len(straight.History) != 4 {
		t.Fatalf("histories: resumed %d epochs, uninterrupted %d", len(resumed.History), len(straight.History))
	}
	for i := range straight.History {
		a, b := resumed.History[i], straight.History[i]
		if math.Abs(a.TrainLoss-b.TrainLoss) > 1e-6 || math.Abs(a.ValLoss-b.ValLoss) > 1e-6 {
			t.Errorf("epoch %d: resumed loss %.7f/%.7f, uninterrupted %.7f/%.7f", i+1, a.TrainLoss, a.ValLoss, b.TrainLoss, b.ValLoss)
		}
	}
	wr, ws := modelWeights(t, resumed.Predictor), modelWeights(t, straight.Predictor)
	d := maxDiff(t, wr, ws)
	if d > 1e-6 {
		t.Errorf("final weights differ by %g between the resumed and the uninterrupted run", d)
	}
	t.Logf("killed after epoch 1 + 1 step, resumed: final weights differ by %g, final loss %.7f vs %.7f", d,
		resumed.History[3].TrainLoss, straight.History[3].TrainLoss)
	// The saved model loads back and predicts like the in-memory one.
	loaded := mustLoad(t, dir)
	if d := maxDiff(t, modelWeights(t, loaded), wr); d != 0 {
		t.Errorf("loaded weights differ by %g", d)
	}
	paths := []string{valSet[0].Path, valSet[3].Path}
	p1, err := loaded.Predict(paths)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := resumed.Predictor.Predict(paths)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p1 {
		for j := range p1[i] {
			if math.Abs(float64(p1[i][j]-p2[i][j])) > 1e-6 {
				t.Fatalf("loaded predictions %v, in-memory %v", p1, p2)
			}
		}
	}
	img, err := pipeline.Decode(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	p3, err := loaded.PredictImages([]image.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	for j := range p3[0] {
		if math.Abs(float64(p3[0][j]-p1[1][j])) > 1e-6 {
			t.Fatalf("PredictImages %v, Predict %v", p3[0], p1[1])
		}
	}
	var cfg RunConfig
	if err := readJSON(filepath.Join(dir, ConfigFile), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Family != "test-dense" || cfg.InputSize != 32 || cfg.Normalization != models.NormImageNet || cfg.Seed != 7 ||
		cfg.Optimizer.Name != "adamw" || cfg.Model.NumClasses != 5 || cfg.Backend == "" || cfg.Dataset == "" {
		t.Errorf("config.json: %+v", cfg)
	}
}

func TestDeepInvalidInput(t *testing.T) {
	classes, trainSet, _ := animals(t, 2, 0)
	notImage := filepath.Join(t.TempDir(), "notes.jpg")
	if err := os.WriteFile(notImage, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	withBad := append(append([]Example(nil), trainSet...), Example{ID: 99, Path: notImage, Label: 0})
	missing := append(append([]Example(nil), trainSet...), Example{ID: 98, Path: "/nonexistent/x.png", Label: 1})
	outOfRange := append(append([]Example(nil), trainSet...), Example{ID: 97, Path: trainSet[0].Path, Label: 5})
	noPath := append(append([]Example(nil), trainSet...), Example{ID: 96, Label: 1})
	cases := []struct {
		name    string
		classes []string
		train   []Example
		want    string
		invalid bool
	}{
		{"empty", classes, nil, "train split is empty", true},
		{"out of range", classes, outOfRange, "label 5, out of range", true},
		{"no path", classes, noPath, "has no image path", true},
		{"class without examples", append(classes, "zebra"), trainSet, `"zebra" have no train example`, true},
		{"not an image", classes, withBad, "notes.jpg", false},
		{"missing file", classes, missing, "/nonexistent/x.png", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Deep(testDenseFamily, models.New().Size(16)).Data(c.classes, c.train, nil).
				With(DeepDefaults().Quiet()).Fit()
			if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, ErrInvalidInput) != c.invalid {
				t.Errorf("error %v: want one containing %q (ErrInvalidInput: %v)", err, c.want, c.invalid)
			}
		})
	}
}

// TestFlipTTAIsMirrorInvariant: with SetFlipTTA an image and its mirror image get the same probabilities
// (the mean over both orientations), which a model over raw pixels does not give them without it.
func TestFlipTTAIsMirrorInvariant(t *testing.T) {
	classes, trainSet, valSet := animals(t, 4, 1)
	res, err := Deep(testDenseFamily, models.New().Size(32)).Data(classes, trainSet, valSet).CacheDir(t.TempDir()).NoAugment().
		With(DeepDefaults().Backend(testBackend(t)).LR(1e-3).Epochs(2).BatchSize(4).Seed(1).Quiet()).Fit()
	if err != nil {
		t.Fatal(err)
	}
	img, mirrored := image.NewNRGBA(image.Rect(0, 0, 32, 32)), image.NewNRGBA(image.Rect(0, 0, 32, 32))
	r := rand.New(rand.NewPCG(3, 4))
	for y := range 32 {
		for x := range 32 {
			c := color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(x * 8), 255}
			img.SetNRGBA(x, y, c)
			mirrored.SetNRGBA(31-x, y, c)
		}
	}
	p := res.Predictor
	plain, err := p.PredictImages([]image.Image{img, mirrored})
	if err != nil {
		t.Fatal(err)
	}
	p.SetFlipTTA(true)
	tta, err := p.PredictImages([]image.Image{img, mirrored})
	if err != nil {
		t.Fatal(err)
	}
	plainDiff, ttaDiff, sum := 0.0, 0.0, 0.0
	for c := range tta[0] {
		plainDiff = math.Max(plainDiff, math.Abs(float64(plain[0][c]-plain[1][c])))
		ttaDiff = math.Max(ttaDiff, math.Abs(float64(tta[0][c]-tta[1][c])))
		sum += float64(tta[0][c])
		// The TTA probability is the mean of the two plain ones.
		if want := (plain[0][c] + plain[1][c]) / 2; math.Abs(float64(tta[0][c]-want)) > 1e-6 {
			t.Errorf("class %d: TTA probability %v, want the mean of %v and %v", c, tta[0][c], plain[0][c], plain[1][c])
		}
	}
	if ttaDiff > 1e-6 || plainDiff < 1e-4 || math.Abs(sum-1) > 1e-5 {
		t.Errorf("image vs mirror: max difference %.2g with TTA (want ~0), %.2g without (want > 0); TTA row sums to %v", ttaDiff, plainDiff, sum)
	}
}

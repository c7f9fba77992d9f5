package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
)

// xlaTestBackend returns the test backend when it is XLA with at least n devices, else skips.
func xlaTestBackend(t *testing.T, n int) backends.Backend {
	t.Helper()
	b := testBackend(t)
	if !isXLA(b) {
		t.Skipf("data-parallel training needs XLA; the test backend is %s (run `make setup`)", b.Name())
	}
	if b.NumDevices() < n {
		t.Skipf("backend %s has %d devices, the test needs %d (XLA_FLAGS=--xla_force_host_platform_device_count=%d)",
			b.Name(), b.NumDevices(), n, n)
	}
	return b
}

// randomImages is a training set of n random uint8 images of size px, labels round-robin over classes.
func randomImages(n, px, classes int) *imageSource {
	r := rand.New(rand.NewPCG(3, 5))
	src := &imageSource{size: px}
	for i := range n {
		p := make([]uint8, px*px*3)
		for j := range p {
			p[j] = uint8(r.IntN(256))
		}
		src.pixels = append(src.pixels, p)
		src.labels = append(src.labels, i%classes)
	}
	return src
}

// deepTestEngine is the engine a DeepBuilder of fam would make for the training images src.
func deepTestEngine(b backends.Backend, fam zoo.Spec, mcfg models.Config, src *imageSource, classes int, o Options) *engine {
	cfg := &RunConfig{Kind: "deep", Family: fam.Name, Model: mcfg, Classes: classNames(classes), InputSize: src.size,
		Normalization: fam.Normalization, Settings: o.Settings, NumTrain: src.Len(), Backend: b.Name()}
	cfg.Model.NumClasses, cfg.Model.InputSize = classes, src.size
	return newEngine(b, b.Name(), deepModel(fam, cfg), cfg, o, src)
}

// stepsResult is what a few training steps produced: each step's loss and the variables after them.
type stepsResult struct {
	losses []float64
	vars   map[string][]float64
}

// runSteps trains e for steps steps of its first epoch, in memory, and returns the losses and every
// float variable (model weights, batch-norm averages, optimiser moments).
func runSteps(t *testing.T, e *engine, steps int) stepsResult {
	t.Helper()
	if err := e.setup(); err != nil {
		t.Fatal(err)
	}
	e.newContext()
	if err := e.ctx.SetRNGStateFromSeed(e.config.Seed); err != nil {
		t.Fatal(err)
	}
	if err := e.buildExecs(); err != nil {
		t.Fatal(err)
	}
	batch := e.config.BatchSize
	idx, labels, weights := make([]int, batch), make([]int32, batch), make([]float32, batch)
	perm := permutation(e.train.Len(), e.config.Seed, 1)
	var res stepsResult
	for s := range steps {
		copy(idx, perm[s*batch:(s+1)*batch])
		loss, _, _, err := e.trainStep(idx, 1, labels, weights)
		if err != nil {
			t.Fatalf("%d devices, step %d: %v", e.devices, s+1, err)
		}
		res.losses = append(res.losses, loss)
	}
	res.vars = weightsOf(t, e).vars
	return res
}

func floats(t *testing.T, x *tensors.Tensor) []float64 {
	t.Helper()
	switch flat := x.Value().(type) {
	case float32:
		return []float64{float64(flat)}
	case float64:
		return []float64{flat}
	}
	var out []float64
	tensors.MustConstFlatData(x, func(flat []float32) {
		out = make([]float64, len(flat))
		for i, v := range flat {
			out[i] = float64(v)
		}
	})
	return out
}

// compareSteps fails when got differs from want beyond float32 summation-order noise.
func compareSteps(t *testing.T, what string, want, got stepsResult) {
	t.Helper()
	for i := range want.losses {
		if d := math.Abs(want.losses[i] - got.losses[i]); d > 1e-4*math.Max(1, math.Abs(want.losses[i])) {
			t.Errorf("%s: step %d loss %.7f, one device %.7f", what, i+1, got.losses[i], want.losses[i])
		}
	}
	if len(got.vars) != len(want.vars) {
		t.Errorf("%s: %d float variables, one device has %d", what, len(got.vars), len(want.vars))
	}
	bad := 0
	for name, w := range want.vars {
		g, ok := got.vars[name]
		if !ok || len(g) != len(w) {
			t.Errorf("%s: variable %s missing or resized", what, name)
			continue
		}
		// Relative to the variable's scale (optimiser moments are small numbers), plus 1e-6 absolute: the
		// variables whose true gradient is zero (see above) hold float32 noise of 1e-9..1e-7 on any device
		// count. A real difference, e.g. per-device batch statistics, moves gradients by a sizeable fraction,
		// i.e. moments by >= 1e-5 and weights by LR times that.
		var scale, maxDiff float64
		for i := range w {
			scale = math.Max(scale, math.Abs(w[i]))
			maxDiff = math.Max(maxDiff, math.Abs(w[i]-g[i]))
		}
		if maxDiff > 1e-3*scale+1e-6 && bad < 10 {
			bad++
			t.Errorf("%s: variable %s differs from one device's by %.3g (its scale %.3g)", what, name, maxDiff, scale)
		}
	}
}

// TestDataParallelMatchesOneDevice trains a tiny ResNet and a tiny EfficientNet for two steps on 1, 2 and
// 4 devices of the same global batch: the losses and every updated variable (weights, batch-norm averages,
// optimiser moments) must agree within float32 tolerance. Batch norm uses the statistics of the global
// batch (SyncBN), so any per-device statistics would show here.
//
// EfficientNet is compared under SGD: in it, the bias of each block's projection batch norm feeds, through
// a linear 1x1 convolution, the next batch norm, which removes any per-channel shift, so its true gradient
// is zero and the computed one is float32 rounding noise; Adam divides by the noise's own size and turns it
// into +-LR steps whose sign depends on summation order (2 of ~200 variables then differ by ~LR on any
// change of reduction order, one device included). SGD keeps noise as noise; ResNet runs the AdamW default.
func TestDataParallelMatchesOneDevice(t *testing.T) {
	b := xlaTestBackend(t, 4)
	const classes, batch, steps = 3, 8, 2
	cases := []struct {
		family string
		cfg    models.Config
		opts   Options
	}{
		{"resnet18", models.New().WithWidth(0.125), DeepDefaults()},
		{"efficientnet", models.New().WithWidth(0.25).WithDepth(0.25), DeepDefaults().Optimizer("sgd").LR(0.05)},
	}
	for _, c := range cases {
		t.Run(c.family, func(t *testing.T) {
			src := randomImages(batch*steps, 32, classes)
			opts := c.opts.BatchSize(batch).Epochs(1).Seed(7).Quiet()
			fam := zoo.MustLookup(c.family)
			one := runSteps(t, deepTestEngine(b, fam, c.cfg, src, classes, opts), steps)
			for _, n := range []int{2, 4} {
				e := deepTestEngine(b, fam, c.cfg, src, classes, opts.Devices(n))
				got := runSteps(t, e, steps)
				if e.devices != n || e.parallel == nil {
					t.Fatalf("Devices(%d) ran on %d devices", n, e.devices)
				}
				compareSteps(t, fmt.Sprintf("%s on %d devices", c.family, n), one, got)
			}
		})
	}
}

func TestDevicesRefused(t *testing.T) {
	b := testBackend(t)
	src := randomImages(12, 16, 3)
	fam := zoo.MustLookup("resnet18")
	if !isXLA(b) {
		e := deepTestEngine(b, fam, models.New(), src, 3, DeepDefaults().BatchSize(4).Devices(2))
		err := e.setup()
		if err == nil || !strings.Contains(err.Error(), "--devices") || !strings.Contains(err.Error(), "XLA") {
			t.Errorf("pure-Go backend %s with Devices(2): got %v, want a refusal naming --devices and XLA", b.Name(), err)
		}
		e = deepTestEngine(b, fam, models.New(), src, 3, DeepDefaults().BatchSize(4).Devices(0))
		if err := e.setup(); err != nil || e.devices != 1 {
			t.Errorf("pure-Go backend with Devices(0) (all): %d devices, %v; want its one device", e.devices, err)
		}
		return
	}
	e := deepTestEngine(b, fam, models.New(), src, 3, DeepDefaults().BatchSize(6).Devices(4))
	if err := e.setup(); err == nil || !strings.Contains(err.Error(), "batch size 6 does not divide by 4 devices") {
		t.Errorf("batch 6 on 4 devices: got %v", err)
	}
	e = deepTestEngine(b, fam, models.New(), src, 3, DeepDefaults().BatchSize(4).Devices(b.NumDevices()+1))
	if err := e.setup(); err == nil || !strings.Contains(err.Error(), "device(s)") {
		t.Errorf("more devices than the backend has: got %v", err)
	}
	e = deepTestEngine(b, fam, models.New(), src, 3, DeepDefaults().BatchSize(4).Devices(-2))
	if err := e.setup(); err == nil || !strings.Contains(err.Error(), "--devices") {
		t.Errorf("Devices(-2): got %v", err)
	}
	e = deepTestEngine(b, fam, models.New(), src, 3, DeepDefaults().BatchSize(4).Devices(0))
	if err := e.setup(); err != nil || e.devices != b.NumDevices() {
		t.Errorf("Devices(0) on %s: %d devices, %v; want all %d", b.Name(), e.devices, err, b.NumDevices())
	}
}

// TestResumeAcrossDeviceCounts interrupts a run on 2 devices after its first epoch (its last checkpoint
// removed, as a kill between history.json and the checkpoint leaves it) and resumes it on 4 devices and on
// one: both finish with the history and weights of an uninterrupted one-device run.
func TestResumeAcrossDeviceCounts(t *testing.T) {
	b := xlaTestBackend(t, 4)
	const classes = 3
	src := randomImages(16, 16, classes)
	opts := DeepDefaults().BatchSize(8).Epochs(2).Seed(3).Quiet()
	fit := func(o Options) (*Result, *engine) {
		t.Helper()
		e := deepTestEngine(b, testSmallCNN, models.New(), src, classes, o)
		res, err := e.fit()
		if err != nil {
			t.Fatalf("Devices %d, dir %q: %v", e.requestedDevices, o.outputDir, err)
		}
		return res, e
	}
	ref, refEngine := fit(opts)
	want := weightsOf(t, refEngine)
	for _, resumeOn := range []int{4, 1} {
		dir := t.TempDir()
		first, _ := fit(opts.Devices(2).OutputDir(dir))
		if first.Devices != 2 {
			t.Fatalf("first run on %d devices, want 2", first.Devices)
		}
		removeNewestCheckpoint(t, dir)
		res, e := fit(opts.Devices(resumeOn).OutputDir(dir))
		if res.ResumedFromEpoch != 1 || res.Devices != resumeOn {
			t.Fatalf("resumed from epoch %d on %d devices, want epoch 1 on %d", res.ResumedFromEpoch, res.Devices, resumeOn)
		}
		for i, st := range res.History {
			if d := math.Abs(st.TrainLoss - ref.History[i].TrainLoss); d > 1e-4 {
				t.Errorf("resumed on %d: epoch %d train loss %.6f, uninterrupted one-device run %.6f", resumeOn, i+1, st.TrainLoss, ref.History[i].TrainLoss)
			}
		}
		compareSteps(t, fmt.Sprintf("2 devices resumed on %d", resumeOn), want, weightsOf(t, e))
	}
}

// weightsOf returns e's float variables as a stepsResult without losses.
func weightsOf(t *testing.T, e *engine) stepsResult {
	t.Helper()
	res := stepsResult{vars: map[string][]float64{}}
	for v := range e.ctx.IterVariables() {
		if v.DType().IsFloat() {
			val, err := v.Value()
			if err != nil {
				t.Fatalf("reading %s: %v", v.ScopeAndName(), err)
			}
			res.vars[v.ScopeAndName()] = floats(t, val)
		}
	}
	return res
}

// removeNewestCheckpoint deletes the last checkpoint of the run in dir.
func removeNewestCheckpoint(t *testing.T, dir string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, CheckpointDir, "checkpoint-*.json"))
	if err != nil || len(matches) < 2 {
		t.Fatalf("want 2 checkpoints in %s, have %v (%v)", dir, matches, err)
	}
	sort.Strings(matches)
	base := strings.TrimSuffix(matches[len(matches)-1], ".json")
	for _, p := range []string{base + ".json", base + ".bin"} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDevicesIsNotASetting: the device count changes where a run computes, not what it computes, so the
// planned config.json (and with it Inspect's "same run" check) is the same for every count.
func TestDevicesIsNotASetting(t *testing.T) {
	animals := []string{"butterfly", "dog", "elephant", "horse", "sheep"}
	plan := func(o Options) string {
		cfg := Deep(testDenseFamily, models.New().Size(16)).Data(animals, fakeExamples(16, 5), fakeExamples(5, 5)).With(o).Planned()
		fp, err := cfg.fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	one := plan(DeepDefaults().BatchSize(8))
	for _, n := range []int{0, 1, 2, 4} {
		if got := plan(DeepDefaults().BatchSize(8).Devices(n)); got != one {
			t.Errorf("Devices(%d) changed the planned run:\n  one device: %s\n  Devices(%d): %s", n, one, n, got)
		}
	}
	if o := DeepDefaults(); o.Devices(4).devices != 4 || o.devices != 0 {
		t.Errorf("Devices must return a changed copy: receiver %d, copy %d", o.devices, o.Devices(4).devices)
	}
}

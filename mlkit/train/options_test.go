package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// fakeExamples returns n examples cycling over classes, with paths that Planned never opens.
func fakeExamples(n, classes int) []Example {
	out := make([]Example, n)
	for i := range out {
		out[i] = Example{ID: int64(i), Path: fmt.Sprintf("/nonexistent/%d.jpg", i), Label: i % classes}
	}
	return out
}

// The config.json files in testdata were written by Fit before Options existed (see each case's
// settings, as they were then spelled). The same settings given through Options must be read as the same
// run, and every field of those files must survive a round trip through RunConfig unchanged, so that the
// models trained in existing apps are still recognised and reused.
func TestConfigFilesWrittenBeforeOptionsAreTheSameRun(t *testing.T) {
	animals := []string{"butterfly", "dog", "elephant", "horse", "sheep"}
	deepAug := pipeline.DefaultAugment()
	deepAug.Flip, deepAug.Brightness = false, 0.2
	cases := []struct {
		file    string
		planned RunConfig
	}{
		// Head(classes, tr, va).Seed(42).Dataset("animals v1 (/apps/zoo)")
		{"head_default.json", Head(classNames(3), blobs(5, 24, 4, 3, 2), blobs(6, 6, 4, 3, 2)).
			With(HeadDefaults().Seed(42).Dataset("animals v1 (/apps/zoo)")).Planned()},
		// Head(...).Hidden(8).Dropout(0.1).L2(1e-4).WeightDecay(1e-3).BalanceClasses().LR(3e-3).Optimizer("sgd").
		// Momentum(0.8).Schedule("cosine").WarmupEpochs(0.5).LabelSmoothing(0.05).Epochs(3).BatchSize(64).
		// EarlyStopping(2).RestoreBest(false).MultiLabel().Seed(9).Dataset("blobs v3")
		{"head_tuned.json", Head(classNames(3), blobs(5, 24, 4, 3, 2), blobs(6, 6, 4, 3, 2)).
			Hidden(8).Dropout(0.1).L2(1e-4).MultiLabel().
			With(HeadDefaults().WeightDecay(1e-3).BalanceClasses().LR(3e-3).Optimizer("sgd").Momentum(0.8).
				Schedule("cosine").WarmupEpochs(0.5).LabelSmoothing(0.05).Epochs(3).BatchSize(64).EarlyStopping(2).
				RestoreBest(false).Seed(9).Dataset("blobs v3")).Planned()},
		// Deep(dense, models.New().Size(16)).Data(animals, 15, 5).Seed(42).Dataset("animals v2 (/apps/zoo)")
		{"deep_default.json", Deep(testDenseFamily, models.New().Size(16)).Data(animals, fakeExamples(15, 5), fakeExamples(5, 5)).
			With(DeepDefaults().Seed(42).Dataset("animals v2 (/apps/zoo)")).Planned()},
		// Deep(dense, models.New().Size(16).WithDropout(0.2)).Data(...).Optimizer("adam").Betas(0.8, 0.99).
		// Nesterov().Momentum(0.5).WeightDecay(1e-3).WarmupEpochs(1).Schedule("cosine").MinLRFactor(0.1).LR(2e-3).
		// LabelSmoothing(0.1).BalanceClasses().Epochs(2).BatchSize(4).Seed(7).Augment(aug).EarlyStopping(3).
		// RestoreBest(true).Dataset("animals v3")
		{"deep_tuned.json", Deep(testDenseFamily, models.New().Size(16).WithDropout(0.2)).
			Data(animals, fakeExamples(15, 5), fakeExamples(5, 5)).Augment(deepAug).
			With(DeepDefaults().Optimizer("adam").Betas(0.8, 0.99).Nesterov().Momentum(0.5).WeightDecay(1e-3).
				WarmupEpochs(1).Schedule("cosine").MinLRFactor(0.1).LR(2e-3).LabelSmoothing(0.1).BalanceClasses().
				Epochs(2).BatchSize(4).Seed(7).EarlyStopping(3).RestoreBest(true).Dataset("animals v3")).Planned()},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			old, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ConfigFile), old, 0o644); err != nil {
				t.Fatal(err)
			}
			st, err := Inspect(dir, c.planned)
			if err != nil || !st.Same() {
				t.Errorf("Inspect: %+v %v; want the same run", st, err)
			}
			// Every field, names and values, survives reading and writing.
			var cfg RunConfig
			if err := json.Unmarshal(old, &cfg); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(&cfg)
			if err != nil {
				t.Fatal(err)
			}
			var want, got map[string]any
			if err := json.Unmarshal(old, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed config.json:\n got %s\nwant %s", again, old)
			}
		})
	}
}

// Options is a value: a setter changes a copy, never its receiver, so one base serves several runs.
func TestOptionsSettersReturnChangedCopies(t *testing.T) {
	base := HeadDefaults()
	a := base.Epochs(3).LR(0.1).Seed(7).EarlyStopping(2).Quiet()
	b := base.Epochs(4)
	if base.Settings != HeadDefaults().Settings || base.quiet {
		t.Errorf("setters changed their receiver: %+v", base)
	}
	if a.Settings.Epochs != 3 || a.Settings.Optimizer.LR != 0.1 || a.Settings.Seed != 7 || a.Settings.Patience != 2 || !a.quiet {
		t.Errorf("a = %+v", a)
	}
	if b.Settings.Epochs != 4 || b.Settings.Optimizer.LR != base.Settings.Optimizer.LR || b.quiet {
		t.Errorf("b = %+v", b)
	}
	h := Head(classNames(2), blobs(1, 40, 2, 2, 1), nil) // more examples than a batch: not capped
	if h.Options().Settings != HeadDefaults().Settings {
		t.Errorf("a new head's options are %+v, want HeadDefaults", h.Options())
	}
	if got := h.With(a).Planned().Settings; got != a.Settings {
		t.Errorf("Planned after With: %+v, want %+v", got, a.Settings)
	}
}

// Settings out of range, NaN included, are refused before training, naming the setting.
func TestOptionsOutOfRangeAreRefused(t *testing.T) {
	classes := classNames(2)
	data := blobs(1, 8, 2, 2, 1)
	for _, c := range []struct {
		opts Options
		want string
	}{
		{HeadDefaults().LabelSmoothing(math.NaN()), "label smoothing NaN"},
		{HeadDefaults().LabelSmoothing(1), "label smoothing 1"},
		{HeadDefaults().EarlyStopping(-1), "patience -1"},
		{HeadDefaults().Mixup(-0.2), "mixup alpha -0.2"},
		{HeadDefaults().Mixup(math.NaN()), "mixup alpha NaN"},
		{HeadDefaults().Mixup(math.Inf(1)), "mixup alpha +Inf"},
		{HeadDefaults().Epochs(0), "epochs = 0"},
		{HeadDefaults().BatchSize(0), "batch size = 0"},
	} {
		_, err := Head(classes, data, nil).With(c.opts.Backend(testBackend(t)).Quiet()).Fit()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error saying %q", c.opts.Settings, err, c.want)
		}
	}
	if _, err := Head(classes, data, nil).Dropout(math.NaN()).With(HeadDefaults().Backend(testBackend(t)).Quiet()).Fit(); err == nil ||
		!strings.Contains(err.Error(), "dropout=NaN") {
		t.Errorf("dropout NaN: %v", err)
	}
}

// A planned run that cannot be encoded as JSON (a NaN setting) is an error of Inspect, not a list of
// differences computed from nothing.
func TestInspectOfAnUnencodablePlanIsAnError(t *testing.T) {
	dir := t.TempDir()
	old, err := os.ReadFile(filepath.Join("testdata", "head_default.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), old, 0o644); err != nil {
		t.Fatal(err)
	}
	planned := Head(classNames(3), blobs(5, 24, 4, 3, 2), blobs(6, 6, 4, 3, 2)).Dropout(math.NaN()).
		With(HeadDefaults().Seed(42).Dataset("animals v1 (/apps/zoo)")).Planned()
	st, err := Inspect(dir, planned)
	if err == nil || !strings.Contains(err.Error(), "planned run") || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("Inspect of a NaN plan: %+v %v, want an error naming the planned run's NaN", st, err)
	}
}

// ClipNorm bounds the global norm of each step's gradients: with plain SGD at LR 1, one step moves the
// weights by at most ClipNorm, while the unclipped step moves them much further.
func TestClipNormBoundsEachStep(t *testing.T) {
	classes := classNames(3)
	data := blobs(11, 30, 16, 3, 1)
	step := func(o Options) map[string][]float32 {
		res, err := Head(classes, data, nil).With(o.Backend(testBackend(t)).Optimizer("sgd").Momentum(0).
			Epochs(1).BatchSize(len(data)).Seed(3).Quiet()).Fit()
		if err != nil {
			t.Fatal(err)
		}
		return modelWeights(t, res.Predictor)
	}
	distance := func(a, b map[string][]float32) float64 {
		var s float64
		for k, va := range a {
			for i := range va {
				d := float64(va[i] - b[k][i])
				s += d * d
			}
		}
		return math.Sqrt(s)
	}
	initial := step(HeadDefaults().LR(1e-9))
	clipped := distance(step(HeadDefaults().LR(1).ClipNorm(1e-3)), initial)
	free := distance(step(HeadDefaults().LR(1)), initial)
	if clipped > 1.01e-3 || clipped < 0.9e-3 || free < 1e-2 {
		t.Errorf("one SGD step at LR 1 moved the weights by %g with ClipNorm(1e-3) (want 1e-3) and by %g without (want > 1e-2)", clipped, free)
	}
	if _, err := Head(classes, data, nil).With(HeadDefaults().ClipNorm(-1).Quiet()).Fit(); err == nil || !strings.Contains(err.Error(), "clipping norm -1") {
		t.Errorf("ClipNorm(-1): %v", err)
	}
}

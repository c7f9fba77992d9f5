package train

import (
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit/internal/vecmath"
)

func TestHeadSeparable(t *testing.T) {
	b := testBackend(t)
	classes := classNames(5)
	trainSet := blobs(1, 500, 1280, 5, 2)
	valSet := blobs(2, 100, 1280, 5, 2)
	start := time.Now()
	res, err := Head(classes, trainSet, valSet).
		With(HeadDefaults().Backend(b).Epochs(20).Seed(3).Quiet()).Fit()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linear head, 500x1280, 20 epochs on %s: %v (%.0f examples/s in the last epoch)", b.Name(),
		time.Since(start), res.History[len(res.History)-1].ExamplesPerSecond)
	last := res.History[len(res.History)-1]
	if last.ValAccuracy < 0.98 {
		t.Errorf("validation accuracy %.3f on separable blobs, want >= 0.98; history %+v", last.ValAccuracy, res.History)
	}
	if last.TrainLoss >= res.History[0].TrainLoss {
		t.Errorf("training loss did not decrease: first %.4f last %.4f", res.History[0].TrainLoss, last.TrainLoss)
	}
	probs, err := res.Predictor.PredictVectors([][]float32{valSet[0].Vector, valSet[1].Vector})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range probs {
		var sum float64
		for _, v := range p {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Errorf("probabilities of example %d sum to %v", i, sum)
		}
		if vecmath.Argmax(p) != valSet[i].Label {
			t.Errorf("example %d predicted %d, label %d", i, vecmath.Argmax(p), valSet[i].Label)
		}
	}
}

func TestHeadHiddenDropoutBalancedReproducible(t *testing.T) {
	b := testBackend(t)
	classes := classNames(3)
	// Imbalanced: class 0 has most examples.
	var trainSet []Embedded
	for _, e := range blobs(3, 240, 64, 3, 1.5) {
		if e.Label == 0 || e.ID%4 == 0 {
			trainSet = append(trainSet, e)
		}
	}
	valSet := blobs(4, 60, 64, 3, 1.5)
	run := func() *Result {
		res, err := Head(classes, trainSet, valSet).Hidden(32).Dropout(0.3).L2(1e-4).
			With(HeadDefaults().Backend(b).WeightDecay(1e-3).BalanceClasses().LabelSmoothing(0.05).LR(5e-3).Epochs(15).
				BatchSize(16).Seed(11).Quiet()).Fit()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, c := run(), run()
	la, lc := a.History[len(a.History)-1], c.History[len(c.History)-1]
	if la.TrainLoss != lc.TrainLoss || la.ValLoss != lc.ValLoss {
		t.Errorf("same seed, different results: %+v vs %+v", la, lc)
	}
	if la.ValAccuracy < 0.9 {
		t.Errorf("hidden head validation accuracy %.3f, want >= 0.9", la.ValAccuracy)
	}
}

func TestHeadSGDCosineWarmup(t *testing.T) {
	b := testBackend(t)
	classes := classNames(4)
	var steps []StepInfo
	rec := ProgressFuncs{OnStep: func(s StepInfo) { steps = append(steps, s) }}
	res, err := Head(classes, blobs(5, 200, 32, 4, 1), blobs(6, 40, 32, 4, 1)).
		With(HeadDefaults().Backend(b).Optimizer("sgd").Momentum(0.9).LR(0.05).Schedule("cosine").WarmupEpochs(1).
			Epochs(6).Seed(1).Progress(rec)).Fit()
	if err != nil {
		t.Fatal(err)
	}
	// The in-graph learning rate follows the documented schedule: 200/32 = 6 steps per epoch, 1 epoch of
	// warm-up, cosine to 0 over 36 steps.
	want := schedule{opt: OptimizerOptions{LR: 0.05, Schedule: "cosine"}, totalSteps: 36, warmupSteps: 6}
	if len(steps) != 36 {
		t.Fatalf("%d steps reported, want 36", len(steps))
	}
	for _, s := range steps {
		if w := want.at(s.GlobalStep); math.Abs(s.LearningRate-w) > 1e-6 {
			t.Errorf("step %d: learning rate %v, want %v", s.GlobalStep, s.LearningRate, w)
		}
	}
	last := res.History[len(res.History)-1]
	if last.ValAccuracy < 0.95 {
		t.Errorf("SGD head validation accuracy %.3f", last.ValAccuracy)
	}
	if !(last.LearningRate < res.History[0].LearningRate) {
		t.Errorf("cosine schedule did not decay: first %v last %v", res.History[0].LearningRate, last.LearningRate)
	}
}

func TestHeadMultiLabel(t *testing.T) {
	b := testBackend(t)
	classes := classNames(3)
	res, err := Head(classes, blobs(7, 150, 16, 3, 0.5), blobs(8, 30, 16, 3, 0.5)).MultiLabel().
		With(HeadDefaults().Backend(b).LR(1e-2).Epochs(10).Seed(2).Quiet()).Fit()
	if err != nil {
		t.Fatal(err)
	}
	probs, err := res.Predictor.PredictVectors([][]float32{blobs(8, 30, 16, 3, 0.5)[0].Vector})
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, p := range probs[0] {
		sum += float64(p)
		if p < 0 || p > 1 {
			t.Fatalf("sigmoid probability %v out of [0,1]", p)
		}
	}
	if probs[0][0] < 0.5 || math.Abs(sum-1) < 1e-6 && probs[0][1] > 0.01 {
		t.Errorf("multi-label probabilities %v: want independent sigmoids with class 0 high", probs[0])
	}
	if res.History[len(res.History)-1].ValAccuracy < 0.95 {
		t.Errorf("multi-label accuracy %v", res.History[len(res.History)-1].ValAccuracy)
	}
}

func TestHeadEarlyStoppingRestoresBest(t *testing.T) {
	b := testBackend(t)
	classes := classNames(2)
	// Overlapping classes and a high learning rate: validation loss gets worse after a few epochs.
	dir := t.TempDir()
	res, err := Head(classes, blobs(9, 40, 200, 2, 12), blobs(10, 40, 200, 2, 12)).
		With(HeadDefaults().Backend(b).LR(0.05).Epochs(40).EarlyStopping(2).Seed(1).OutputDir(dir).Quiet()).Fit()
	if err != nil {
		t.Fatal(err)
	}
	if !res.StoppedEarly {
		t.Fatalf("expected early stopping; history %+v", res.History)
	}
	bestLoss := math.Inf(1)
	bestEpoch := 0
	for _, st := range res.History {
		if st.ValLoss < bestLoss {
			bestLoss, bestEpoch = st.ValLoss, st.Epoch
		}
	}
	if res.BestEpoch != bestEpoch || len(res.History) != bestEpoch+2 {
		t.Fatalf("best epoch %d (want %d), ran %d epochs (want %d)", res.BestEpoch, bestEpoch, len(res.History), bestEpoch+2)
	}
	// The returned predictor and the saved model hold the best epoch's weights: their validation loss is
	// the best epoch's.
	valSet := blobs(10, 40, 200, 2, 12)
	for name, p := range map[string]*Predictor{"result": res.Predictor, "loaded": mustLoad(t, dir)} {
		if got := meanLoss(t, p, valSet); math.Abs(got-bestLoss) > 1e-4 {
			t.Errorf("%s predictor's validation loss %.6f, best epoch's %.6f", name, got, bestLoss)
		}
	}
}

func mustLoad(t *testing.T, dir string) *Predictor {
	t.Helper()
	p, err := LoadOn(dir, testBackend(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func meanLoss(t *testing.T, p *Predictor, data []Embedded) float64 {
	t.Helper()
	vecs := make([][]float32, len(data))
	for i, e := range data {
		vecs[i] = e.Vector
	}
	probs, err := p.PredictVectors(vecs)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for i, pr := range probs {
		s -= math.Log(float64(pr[data[i].Label]))
	}
	return s / float64(len(data))
}

func TestHeadSaveLoadResume(t *testing.T) {
	b := testBackend(t)
	classes := classNames(3)
	trainSet, valSet := blobs(11, 90, 24, 3, 2), blobs(12, 30, 24, 3, 2)
	dir := t.TempDir()
	res, err := Head(classes, trainSet, valSet).Hidden(8).Dropout(0.1).
		With(HeadDefaults().Backend(b).Epochs(4).Seed(5).OutputDir(dir).Dataset("blobs v1").Quiet()).Fit()
	if err != nil {
		t.Fatal(err)
	}
	p := mustLoad(t, dir)
	if p.Config().Dataset != "blobs v1" || p.Config().EmbeddingDim != 24 || p.Config().Hidden != 8 {
		t.Errorf("loaded config %+v", p.Config())
	}
	a, _ := res.Predictor.PredictVectors([][]float32{valSet[0].Vector})
	c, err := p.PredictVectors([][]float32{valSet[0].Vector})
	if err != nil {
		t.Fatal(err)
	}
	for j := range a[0] {
		if math.Abs(float64(a[0][j]-c[0][j])) > 1e-6 {
			t.Fatalf("loaded predictor differs: %v vs %v", a[0], c[0])
		}
	}
	// Fitting again into the finished directory trains nothing and returns the same history.
	again, err := Head(classes, trainSet, valSet).Hidden(8).Dropout(0.1).
		With(HeadDefaults().Backend(b).Epochs(4).Seed(5).OutputDir(dir).Dataset("blobs v1").Quiet()).Fit()
	if err != nil {
		t.Fatal(err)
	}
	if again.ResumedFromEpoch != 4 || len(again.History) != 4 || !reflect.DeepEqual(again.History[3], res.History[3]) {
		t.Errorf("re-fit of a finished run: resumed %d, history %+v", again.ResumedFromEpoch, again.History)
	}
	// A different configuration in the same directory is refused.
	_, err = Head(classes, trainSet, valSet).Hidden(16).
		With(HeadDefaults().Backend(b).Epochs(4).Seed(5).OutputDir(dir).Quiet()).Fit()
	if err == nil || !strings.Contains(err.Error(), "different run") {
		t.Errorf("want a 'different run' error, got %v", err)
	}
	if _, err := LoadOn(filepath.Join(dir, "nope"), b); err == nil {
		t.Error("loading a missing directory succeeded")
	}
}

func TestHeadInvalidInput(t *testing.T) {
	good := blobs(1, 20, 8, 2, 1)
	classes := classNames(2)
	withLabel := func(l int) []Embedded {
		d := append([]Embedded(nil), good...)
		d[3] = Embedded{ID: 3, Vector: good[3].Vector, Label: l}
		return d
	}
	oneClass := make([]Embedded, 0)
	for _, e := range good {
		if e.Label == 0 {
			oneClass = append(oneClass, e)
		}
	}
	shortVec := append([]Embedded(nil), good...)
	shortVec[5] = Embedded{ID: 5, Vector: []float32{1, 2}, Label: 1}
	nan := append([]Embedded(nil), good...)
	nan[2] = Embedded{ID: 2, Vector: append([]float32{float32(math.NaN())}, good[2].Vector[1:]...), Label: 0}
	badVal := blobs(2, 4, 9, 2, 1)
	cases := []struct {
		name       string
		classes    []string
		train, val []Embedded
		want       string
	}{
		{"empty train", classes, nil, nil, "train split is empty"},
		{"one class name", []string{"dog"}, good, nil, "at least 2 classes"},
		{"duplicate class", []string{"dog", "dog"}, good, nil, "used twice"},
		{"label out of range", classes, withLabel(2), nil, "out of range"},
		{"negative label", classes, withLabel(-1), nil, "out of range"},
		{"one class only", classes, oneClass, nil, "one class only"},
		{"class without examples", classNames(3), good, nil, `"elephant" have no train example`},
		{"mismatched dims", classes, shortVec, nil, "2-d vector, expected 8-d"},
		{"mismatched val dims", classes, good, badVal, "validation example 0 (ID 0) has a 9-d vector"},
		{"non-finite", classes, nan, nil, "non-finite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Head(c.classes, c.train, c.val).
				With(HeadDefaults().Quiet()).Fit()
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q: want ErrInvalidInput containing %q", err, c.want)
			}
		})
	}
	if _, err := Head(classes, good, nil).
		With(HeadDefaults().Optimizer("rmsprop").Quiet()).Fit(); err == nil || !strings.Contains(err.Error(), "rmsprop") {
		t.Errorf("unknown optimizer: %v", err)
	}
	if _, err := Head(classes, good, nil).Dropout(1).
		With(HeadDefaults().Quiet()).Fit(); err == nil {
		t.Error("dropout 1 accepted")
	}
}

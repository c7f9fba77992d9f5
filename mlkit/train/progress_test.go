package train

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestTerminalProgress(t *testing.T) {
	var sb strings.Builder
	p := NewTerminalProgress(&sb)
	p.Step(StepInfo{Epoch: 2, Epochs: 5, Step: 3, Steps: 3, Loss: 0.5, Accuracy: 0.75, ExamplesPerSecond: 120.5, ETA: 90 * time.Second})
	p.Epoch(EpochStats{Epoch: 2, TrainLoss: 0.5, TrainAccuracy: 0.75, ValLoss: 0.6, ValAccuracy: 0.7, HasVal: true, Seconds: 2, ExamplesPerSecond: 120})
	out := sb.String()
	for _, want := range []string{"\repoch 2/5  step 3/3  loss 0.5000  acc 0.750  120.5 img/s  ETA 1m30s", "val loss 0.6000 acc 0.700", "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output %q lacks %q", out, want)
		}
	}
}

func TestSchedule(t *testing.T) {
	s := schedule{opt: OptimizerOptions{LR: 1, Schedule: "cosine", MinLRFactor: 0.1}, totalSteps: 110, warmupSteps: 10}
	for _, c := range []struct {
		step int64
		want float64
	}{{1, 0.1}, {5, 0.5}, {10, 1}, {60, 0.55}, {110, 0.1}} {
		if got := s.at(c.step); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("lr at step %d = %v, want %v", c.step, got, c.want)
		}
	}
	s.opt.Schedule = "constant"
	if got := s.at(50); got != 1 {
		t.Errorf("constant schedule at 50 = %v", got)
	}
}

func TestOneCycleSchedule(t *testing.T) {
	// 100 steps, no warm-up given: the rise is OneCycleWarmup (25%) of them.
	s := schedule{opt: OptimizerOptions{LR: 1, Schedule: "onecycle", MinLRFactor: 0.01}, totalSteps: 100}
	for _, c := range []struct {
		step int64
		want float64
	}{
		{0, 1 / OneCycleDiv}, // the rise starts at LR/25
		{25, 1},              // peak at the end of the rise
		{100, 0.01},          // ends at MinLRFactor*LR
	} {
		if got := s.at(c.step); math.Abs(got-c.want) > 1e-3 {
			t.Errorf("onecycle lr at step %d = %v, want %v", c.step, got, c.want)
		}
	}
	// Monotone up to the peak, then down.
	for st := int64(2); st <= 100; st++ {
		prev, cur := s.at(st-1), s.at(st)
		if st <= 25 && cur < prev || st > 26 && cur > prev {
			t.Fatalf("onecycle not rising then falling at step %d: %v -> %v", st, prev, cur)
		}
	}
	// A warm-up given in epochs sets the rise instead.
	s.warmupSteps = 10
	if got := s.at(10); got != 1 {
		t.Errorf("onecycle with 10 warm-up steps: lr at 10 = %v, want the peak 1", got)
	}
}

func TestHeadOneCycleInGraph(t *testing.T) {
	b := testBackend(t)
	classes := classNames(4)
	var steps []StepInfo
	rec := ProgressFuncs{OnStep: func(s StepInfo) { steps = append(steps, s) }}
	res, err := Head(classes, blobs(5, 200, 32, 4, 1), blobs(6, 40, 32, 4, 1)).
		With(HeadDefaults().Backend(b).Optimizer("sgd").Momentum(0.9).LR(0.05).Schedule("onecycle").
			Epochs(6).Seed(1).Progress(rec)).Fit()
	if err != nil {
		t.Fatal(err)
	}
	// The learning rate computed in the graph is the documented one: 6 steps per epoch, 36 in all, a rise over 9.
	want := schedule{opt: OptimizerOptions{LR: 0.05, Schedule: "onecycle"}, totalSteps: 36}
	if len(steps) != 36 {
		t.Fatalf("%d steps reported, want 36", len(steps))
	}
	for _, s := range steps {
		if w := want.at(s.GlobalStep); math.Abs(s.LearningRate-w) > 1e-6 {
			t.Errorf("step %d: learning rate %v, want %v", s.GlobalStep, s.LearningRate, w)
		}
	}
	if steps[8].LearningRate < steps[0].LearningRate || steps[35].LearningRate > steps[8].LearningRate {
		t.Errorf("onecycle did not rise then fall: %v, %v, %v", steps[0].LearningRate, steps[8].LearningRate, steps[35].LearningRate)
	}
	if acc := res.History[len(res.History)-1].ValAccuracy; acc < 0.95 {
		t.Errorf("one-cycle SGD head validation accuracy %.3f", acc)
	}
}

package train

import (
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

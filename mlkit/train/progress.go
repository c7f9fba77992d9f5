package train

import (
	"fmt"
	"io"
	"os"
	"time"
)

// TerminalProgress prints one carriage-return-updated line per step (epoch, step, loss, accuracy, img/s,
// ETA) and a permanent line per epoch. It is the default when no Progress is set.
type TerminalProgress struct {
	// W receives the output (os.Stderr by default).
	W io.Writer
	// Every limits step lines to at most one per this interval (default 200ms).
	Every time.Duration
	last  time.Time
}

// NewTerminalProgress returns a TerminalProgress writing to w (nil: os.Stderr).
func NewTerminalProgress(w io.Writer) *TerminalProgress {
	if w == nil {
		w = os.Stderr
	}
	return &TerminalProgress{W: w, Every: 200 * time.Millisecond}
}

// Step implements Progress.
func (p *TerminalProgress) Step(s StepInfo) {
	if s.Step != s.Steps && time.Since(p.last) < p.Every {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.W, "\repoch %d/%d  step %d/%d  loss %.4f  acc %.3f  %.1f img/s  ETA %s   ",
		s.Epoch, s.Epochs, s.Step, s.Steps, s.Loss, s.Accuracy, s.ExamplesPerSecond, s.ETA.Round(time.Second))
}

// Epoch implements Progress.
func (p *TerminalProgress) Epoch(st EpochStats) {
	line := fmt.Sprintf("epoch %d  train loss %.4f acc %.3f", st.Epoch, st.TrainLoss, st.TrainAccuracy)
	if st.HasVal {
		line += fmt.Sprintf("  val loss %.4f acc %.3f", st.ValLoss, st.ValAccuracy)
	}
	line += fmt.Sprintf("  %.1fs  %.1f img/s", st.Seconds, st.ExamplesPerSecond)
	if note := st.CollapseNote(); note != "" {
		line += "  " + note
	}
	fmt.Fprintf(p.W, "\r%-100s\n", line)
}

// ProgressFuncs adapts two functions to Progress; either may be nil.
type ProgressFuncs struct {
	OnStep  func(StepInfo)
	OnEpoch func(EpochStats)
}

// Step implements Progress.
func (p ProgressFuncs) Step(s StepInfo) {
	if p.OnStep != nil {
		p.OnStep(s)
	}
}

// Epoch implements Progress.
func (p ProgressFuncs) Epoch(st EpochStats) {
	if p.OnEpoch != nil {
		p.OnEpoch(st)
	}
}

func pickProgress(p Progress, quiet bool) Progress {
	switch {
	case quiet:
		return nil
	case p != nil:
		return p
	default:
		return NewTerminalProgress(nil)
	}
}

// CollapseNote is the warning progress lines and summaries show for an epoch whose validation predictions
// collapsed (see Collapse), e.g. `COLLAPSED: 96% of validation predictions are "elephant"`; "" otherwise.
func (st EpochStats) CollapseNote() string {
	if st.CollapsedTo == "" {
		return ""
	}
	top := 0.0
	for _, s := range st.ValPredictedShare {
		top = max(top, s)
	}
	return fmt.Sprintf("COLLAPSED: %.0f%% of validation predictions are %q", 100*top, st.CollapsedTo)
}

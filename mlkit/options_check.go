package mlkit

import (
	"errors"
	"fmt"
	"math"

	"github.com/visionnb/visionnb/mlkit/names"
)

// The valid ranges of the numeric training options, shared by TrainBuilder and the CLI's flags.
const (
	MinSize      = 32   // Size: the smallest resolution every family downsamples without collapsing (px)
	MaxSize      = 1024 // Size: the largest (px)
	MaxEpochs    = 10000
	MaxBatchSize = 4096
	MinLR        = 1e-8 // LR: the smallest peak learning rate
	MaxLR        = 10   // LR: the largest
	MaxDevices   = 1024 // Devices: the most devices one data-parallel run asks for (0: all)
)

// ErrBadOption is wrapped by the error Run returns for an option out of its range.
var ErrBadOption = errors.New("invalid option")

// optionChecks collects the problems of a builder's options as they are set, so that Run reports the
// first one (naming the option and its range) before any work.
type optionChecks struct{ errs []error }

// intIn records an error unless lo <= v <= hi.
func (o *optionChecks) intIn(option string, v, lo, hi int) {
	if v < lo || v > hi {
		o.errs = append(o.errs, fmt.Errorf("%s(%d): want %d to %d: %w", option, v, lo, hi, ErrBadOption))
	}
}

// floatIn records an error unless v is a finite number with lo <= v <= hi.
func (o *optionChecks) floatIn(option string, v, lo, hi float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		o.errs = append(o.errs, fmt.Errorf("%s(%g): want a number from %g to %g: %w", option, v, lo, hi, ErrBadOption))
	}
}

// err returns the first recorded problem, prefixed with what was being configured.
func (o *optionChecks) err(what string) error {
	if len(o.errs) == 0 {
		return nil
	}
	return fmt.Errorf("mlkit: %s: %w", what, o.errs[0])
}

// checkOptions validates a TrainBuilder before Run does anything: its name and every numeric option set.
func (b *TrainBuilder) checkOptions() error {
	if err := names.Model(b.name); err != nil {
		return fmt.Errorf("mlkit: train: %w", err)
	}
	if b.family != "" && b.cfg.InputSize != 0 && len(b.opts.errs) == 0 { // a size given through Model(cfg)
		b.opts.intIn("Size", b.cfg.InputSize, MinSize, MaxSize)
	}
	return b.opts.err(fmt.Sprintf("train %q", b.name))
}

package train

import (
	"fmt"
	"math"
)

// LRFindOptions configure the learning-rate range test (see HeadBuilder.LRFind, DeepBuilder.LRFind).
// The zero value of a field means its default (DefaultLRFind).
type LRFindOptions struct {
	// StartLR and EndLR bound the exponential sweep (defaults 1e-7 and 10, as fastai).
	StartLR, EndLR float64
	// Steps is the number of mini-batches of the sweep (default 100); the test stops earlier when the
	// smoothed loss exceeds StopFactor times its minimum.
	Steps int
	// Beta is the smoothing factor of the loss's exponential moving average (default 0.98).
	Beta float64
	// StopFactor stops the sweep once the smoothed loss is above StopFactor * its minimum (default 4).
	StopFactor float64
}

// DefaultLRFind returns fastai's defaults: 1e-7 to 10 over 100 mini-batches, smoothing 0.98, stop at 4x
// the minimum.
func DefaultLRFind() LRFindOptions {
	return LRFindOptions{StartLR: 1e-7, EndLR: 10, Steps: 100, Beta: 0.98, StopFactor: 4}
}

// withDefaults fills the zero fields of o with DefaultLRFind's and checks the ranges.
func (o LRFindOptions) withDefaults() (LRFindOptions, error) {
	d := DefaultLRFind()
	if o.StartLR == 0 {
		o.StartLR = d.StartLR
	}
	if o.EndLR == 0 {
		o.EndLR = d.EndLR
	}
	if o.Steps == 0 {
		o.Steps = d.Steps
	}
	if o.Beta == 0 {
		o.Beta = d.Beta
	}
	if o.StopFactor == 0 {
		o.StopFactor = d.StopFactor
	}
	if !(o.StartLR > 0 && o.EndLR > o.StartLR) || math.IsInf(o.EndLR, 0) {
		return o, fmt.Errorf("learning-rate range test: need 0 < start LR < end LR, got %v .. %v", o.StartLR, o.EndLR)
	}
	if o.Steps < 2 {
		return o, fmt.Errorf("learning-rate range test: %d steps, need at least 2", o.Steps)
	}
	if !(o.Beta > 0 && o.Beta < 1) {
		return o, fmt.Errorf("learning-rate range test: smoothing beta %v out of range (0, 1)", o.Beta)
	}
	if !(o.StopFactor > 1) || math.IsInf(o.StopFactor, 0) {
		return o, fmt.Errorf("learning-rate range test: stop factor %v, need a finite number > 1", o.StopFactor)
	}
	return o, nil
}

// LRFindResult is the outcome of a learning-rate range test.
type LRFindResult struct {
	// LRs are the learning rates of the steps run, increasing; Losses the smoothed (bias-corrected
	// exponential moving average) training losses after each, RawLosses the batch losses.
	LRs       []float64 `json:"lrs"`
	Losses    []float64 `json:"losses"`
	RawLosses []float64 `json:"raw_losses"`
	// Valley is fastai's default suggestion: a point inside the longest decreasing stretch of the loss
	// curve (fastai 2.x's "valley"). Steep is the learning rate where the loss falls fastest.
	Valley float64 `json:"valley"`
	Steep  float64 `json:"steep"`
	// Suggestion is the suggested learning rate (Valley).
	Suggestion float64 `json:"suggestion"`
	// Stopped says why the sweep ended: "steps" (all planned steps run) or "diverged" (the smoothed loss
	// went above the stop factor times its minimum, or was not finite).
	Stopped string `json:"stopped"`
	// Backend is the GoMLX backend the test ran on.
	Backend string `json:"backend"`
}

// LRFind runs the learning-rate range test (Smith 2015, fastai's lr_find) on the head's training data:
// from freshly initialised weights, one mini-batch per step (augmented, in the run's order) with the
// learning rate rising exponentially from StartLR to EndLR, recording the smoothed loss, until Steps
// steps are done or the loss diverges. It uses the run's settings (optimizer, batch, seed...) but not
// its schedule, saves nothing (no output folder is created or read) and leaves no weights behind.
func (h *HeadBuilder) LRFind(o LRFindOptions) (*LRFindResult, error) {
	e, err := h.newEngine()
	if err != nil {
		return nil, err
	}
	res, err := e.lrFind(o)
	if err != nil {
		return nil, fmt.Errorf("head learning-rate range test: %w", err)
	}
	return res, nil
}

// LRFind runs the learning-rate range test on the deep model's training images; see HeadBuilder.LRFind.
// Only the pixel cache (CacheDir) is written.
func (d *DeepBuilder) LRFind(o LRFindOptions) (*LRFindResult, error) {
	e, _, err := d.newEngine()
	if err != nil {
		return nil, err
	}
	res, err := e.lrFind(o)
	if err != nil {
		return nil, fmt.Errorf("deep learning-rate range test %s: %w", d.family.Name, err)
	}
	return res, nil
}

// LRFind runs the learning-rate range test on the unfrozen phase of fine-tuning: it loads the pretrained
// weights, trains the head on the frozen backbone's features as Fit does (in memory), then sweeps the
// learning rate of the whole network from there (the backbone at LR / BackboneLRFactor, as Fit trains
// it); see HeadBuilder.LRFind. Its suggestion is for Options.LR of the unfrozen phase. Only the pixel
// cache (CacheDir) is written.
func (f *FineTuneBuilder) LRFind(o LRFindOptions) (*LRFindResult, error) {
	g := *f
	g.opts = f.opts.OutputDir("").Quiet()
	e, _, _, err := g.newEngine()
	if err != nil {
		return nil, fmt.Errorf("fine-tuning %s: learning-rate range test: %w", f.family.Name, err)
	}
	res, err := e.lrFind(o)
	if err != nil {
		return nil, fmt.Errorf("fine-tuning %s: learning-rate range test: %w", f.family.Name, err)
	}
	return res, nil
}

// lrFind is the range test on the engine's training data, in memory only.
func (e *engine) lrFind(o LRFindOptions) (*LRFindResult, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := e.setup(); err != nil {
		return nil, err
	}
	e.outDir, e.progress = "", nil // Nothing saved, nothing reported per step.
	e.sched = schedule{opt: e.config.Optimizer, sweep: lrSweep{start: o.StartLR, end: o.EndLR, steps: o.Steps}, varLR: e.sched.varLR}
	e.newContext()
	if err := e.ctx.SetRNGStateFromSeed(e.config.Seed); err != nil {
		return nil, fmt.Errorf("seeding the random state: %w", err)
	}
	if e.prepare != nil { // Fine-tuning: the sweep starts from the pretrained backbone and the frozen phase's head.
		if err := e.prepare(e.ctx, true); err != nil {
			return nil, err
		}
	}
	if err := e.buildTrainExec(); err != nil {
		return nil, err
	}
	res := &LRFindResult{Stopped: "steps", Backend: e.backendName}
	batch := e.config.BatchSize
	idx := make([]int, batch)
	labels := make([]int32, batch)
	weights := make([]float32, batch)
	var avg float64
	best := math.Inf(1)
	var perm []int
	for s := range o.Steps {
		epoch, step := s/e.stepsPerEpoch+1, s%e.stepsPerEpoch
		if step == 0 {
			perm = permutation(e.train.Len(), e.config.Seed, epoch)
		}
		copy(idx, perm[step*batch:(step+1)*batch])
		loss, _, lr, err := e.trainStep(idx, epoch, labels, weights)
		if err != nil {
			return nil, fmt.Errorf("step %d (learning rate %.3g): %w", s+1, e.sched.at(int64(s+1)), err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			res.Stopped = "diverged"
			break
		}
		avg = o.Beta*avg + (1-o.Beta)*loss
		smooth := avg / (1 - math.Pow(o.Beta, float64(s+1)))
		res.LRs = append(res.LRs, lr)
		res.Losses = append(res.Losses, smooth)
		res.RawLosses = append(res.RawLosses, loss)
		best = math.Min(best, smooth)
		if smooth > o.StopFactor*best {
			res.Stopped = "diverged"
			break
		}
	}
	if len(res.LRs) < 2 {
		return nil, fmt.Errorf("the loss diverged at once (learning rate %.3g): nothing to suggest; lower the start learning rate", o.StartLR)
	}
	res.Valley, res.Steep = suggestLR(res.LRs, res.Losses, o.Steps)
	res.Suggestion = res.Valley
	return res, nil
}

// suggestLR returns fastai's "valley" and "steep" suggestions for a range test of planned steps, on the
// series without its first tenth of planned steps and its last five points (as fastai's lr_find does;
// the whole series when that leaves fewer than 2 points).
func suggestLR(lrs, losses []float64, planned int) (valley, steep float64) {
	lo, hi := planned/10, len(lrs)-5
	if hi-lo < 2 {
		lo, hi = 0, len(lrs)
	}
	lrs, losses = lrs[lo:hi], losses[lo:hi]
	n := len(losses)
	// Valley: the longest decreasing subsequence of the losses, and the point about half way along it
	// (fastai: start + sections + sections/2 with sections = length/3).
	lds := make([]int, n)
	for i := range lds {
		lds[i] = 1
	}
	maxStart, maxEnd := 0, 0
	for i := 1; i < n; i++ {
		for j := range i {
			if losses[i] < losses[j] && lds[i] < lds[j]+1 {
				lds[i] = lds[j] + 1
			}
			if lds[maxEnd] < lds[i] {
				maxEnd = i
				maxStart = maxEnd - lds[maxEnd]
			}
		}
	}
	sections := float64(maxEnd-maxStart) / 3
	vi := maxStart + int(sections) + int(sections/2)
	vi = max(0, min(vi, n-1))
	// Steep: the most negative slope of loss against log(lr).
	si, minGrad := 0, math.Inf(1)
	for i := 0; i+1 < n; i++ {
		g := (losses[i+1] - losses[i]) / (math.Log(lrs[i+1]) - math.Log(lrs[i]))
		if g < minGrad {
			si, minGrad = i, g
		}
	}
	return lrs[vi], lrs[si]
}

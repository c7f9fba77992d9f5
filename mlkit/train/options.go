package train

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
)

// Options are the training options head and deep runs share: optimiser and schedule, epochs, batch size,
// early stopping, seed, label smoothing, class balancing, and where and how a run reports and saves.
//
// Options is a value: each setter returns a changed copy and leaves its receiver alone, so one Options can
// be the base of several runs. Start from the defaults of a kind, HeadDefaults or DeepDefaults, and give the
// result to a builder with With:
//
//	opts := train.DeepDefaults().LR(3e-3).WarmupEpochs(1).LabelSmoothing(0.1).Epochs(20).Seed(1)
//	res, err := train.Deep(fam, cfg).Data(classes, trainSet, valSet).With(opts).Fit()
//
// What a run saves in config.json is the embedded Settings (RunConfig embeds it too); read a value there,
// e.g. opts.Settings.Epochs. The rest (output folder, progress, backend) only says where the run goes.
//
// Adding an option is one field (in Settings when it changes what is trained, so that a saved run with
// another value is a different run) and one setter, both in this file.
type Options struct {
	// Settings are the options saved in config.json.
	Settings
	outputDir string
	progress  Progress
	quiet     bool
	backend   backends.Backend
	// devices is the number of devices training steps run on (see Devices): 0 one device (the default),
	// allDevices every device of the backend, n > 0 that many.
	devices int
}

// Settings are the training options saved in config.json (as fields of RunConfig, with these JSON names):
// two runs with different Settings are different runs (see Inspect). Set them with Options' setters.
type Settings struct {
	// BalanceClasses weights the loss by inverse class frequency.
	BalanceClasses bool `json:"balance_classes"`
	// LabelSmoothing mixes LabelSmoothing/classes into the one-hot targets.
	LabelSmoothing float64 `json:"label_smoothing,omitempty"`
	// Optimizer and its schedule.
	Optimizer OptimizerOptions `json:"optimizer"`
	// Epochs planned and the fixed BatchSize actually used.
	Epochs    int `json:"epochs"`
	BatchSize int `json:"batch_size"`
	// Patience of early stopping (0: off) and whether the best epoch's weights are restored.
	Patience    int  `json:"patience,omitempty"`
	RestoreBest bool `json:"restore_best"`
	// Seed drives initialisation, data order, augmentation and dropout.
	Seed int64 `json:"seed"`
	// Dataset is the caller's description of the data (e.g. a dataset version), recorded verbatim.
	Dataset string `json:"dataset,omitempty"`
	// ClipNorm rescales each step's gradients to this global L2 norm when they are longer (0: off).
	ClipNorm float64 `json:"clip_norm,omitempty"`
	// ZeroInitResidual zero-initialises the last batch-norm scale of every residual block (ResNet:
	// torchvision's zero_init_residual; EfficientNet: timm's zero_init_last), so that each block starts as
	// the identity. false: the old init.
	ZeroInitResidual bool `json:"zero_init_residual,omitempty"`
	// Mixup is mixup's alpha (Zhang et al. 2018, fastai's MixUp): every training batch is blended with itself
	// in reverse order, inputs, targets and loss weights alike, by lambda ~ Beta(alpha, alpha) drawn per batch
	// (as fastai, max(lambda, 1-lambda), so each example keeps its own label as the larger part). 0: off.
	Mixup float64 `json:"mixup,omitempty"`
	// CutMix is cutmix's alpha (Yun et al. 2019, fastai's CutMix): in every training batch a box covering a
	// share 1-lambda of the image, lambda ~ Beta(alpha, alpha) drawn per batch, is pasted from the example at
	// the mirrored position (the batch reversed), and the targets and loss weights are blended by the box's
	// actual share. Images only; not with Mixup. 0: off.
	CutMix float64 `json:"cutmix,omitempty"`
}

// HeadDefaults are the options of a head (see Head): AdamW with LR 1e-3 and no weight decay, constant
// schedule, 50 epochs, batch 32, no early stopping (the best epoch restored when it is turned on), seed 0.
func HeadDefaults() Options {
	opt := DefaultOptimizer()
	opt.WeightDecay = 0
	opt.Schedule = "constant"
	return Options{Settings: Settings{Optimizer: opt, Epochs: 50, BatchSize: 32, RestoreBest: true}}
}

// DeepDefaults are the options of deep training (see Deep): AdamW LR 1e-3, weight decay 1e-4, cosine
// schedule without warm-up, no label smoothing, 10 epochs, batch 32, no early stopping, seed 0.
func DeepDefaults() Options {
	return Options{Settings: Settings{Optimizer: DefaultOptimizer(), Epochs: 10, BatchSize: 32, RestoreBest: true}}
}

// Optimizer selects "adamw", "adam" or "sgd" (with Momentum, default 0.9).
func (o Options) Optimizer(name string) Options { o.Settings.Optimizer.Name = name; return o }

// LR sets the (peak) learning rate.
func (o Options) LR(lr float64) Options { o.Settings.Optimizer.LR = lr; return o }

// Momentum sets SGD's momentum (0 disables it).
func (o Options) Momentum(m float64) Options { o.Settings.Optimizer.Momentum = m; return o }

// Nesterov switches SGD to Nesterov momentum.
func (o Options) Nesterov() Options { o.Settings.Optimizer.Nesterov = true; return o }

// Betas sets Adam's moment decay rates.
func (o Options) Betas(beta1, beta2 float64) Options {
	o.Settings.Optimizer.Beta1, o.Settings.Optimizer.Beta2 = beta1, beta2
	return o
}

// WeightDecay sets weight decay (decoupled for AdamW, L2 gradient for SGD), applied to kernels only.
func (o Options) WeightDecay(wd float64) Options { o.Settings.Optimizer.WeightDecay = wd; return o }

// Schedule selects the learning-rate schedule: "cosine", "constant" or "onecycle" (see
// OptimizerOptions.Schedule).
func (o Options) Schedule(name string) Options { o.Settings.Optimizer.Schedule = name; return o }

// WarmupEpochs sets a linear learning-rate warm-up (fractions of an epoch allowed).
func (o Options) WarmupEpochs(e float64) Options { o.Settings.Optimizer.WarmupEpochs = e; return o }

// MinLRFactor sets the cosine schedule's final learning rate as a fraction of LR (default 0).
func (o Options) MinLRFactor(f float64) Options { o.Settings.Optimizer.MinLRFactor = f; return o }

// LabelSmoothing mixes eps/classes into the one-hot targets (0.1 typical).
func (o Options) LabelSmoothing(eps float64) Options { o.Settings.LabelSmoothing = eps; return o }

// BalanceClasses weights the loss by inverse class frequency (n / (classes * count)), for imbalanced data.
func (o Options) BalanceClasses() Options { o.Settings.BalanceClasses = true; return o }

// Epochs sets the (maximum) number of epochs.
func (o Options) Epochs(n int) Options { o.Settings.Epochs = n; return o }

// BatchSize sets the fixed batch size, capped at the training-set size. Deep training drops the last
// partial batch of each epoch (the data order changes every epoch, so every image is still seen).
func (o Options) BatchSize(n int) Options { o.Settings.BatchSize = n; return o }

// EarlyStopping stops after patience epochs without a lower validation loss (training loss when there is
// no validation split) and restores the best epoch's weights (see RestoreBest); 0 turns it off.
func (o Options) EarlyStopping(patience int) Options { o.Settings.Patience = patience; return o }

// RestoreBest says whether early stopping puts back the best epoch's weights (default true).
func (o Options) RestoreBest(restore bool) Options { o.Settings.RestoreBest = restore; return o }

// Seed makes the run reproducible on a given backend (initialisation, data order, augmentation, dropout).
func (o Options) Seed(seed int64) Options { o.Settings.Seed = seed; return o }

// Dataset records a description of the data (e.g. a dataset version) in config.json.
func (o Options) Dataset(desc string) Options { o.Settings.Dataset = desc; return o }

// ClipNorm clips each step's gradients to a global L2 norm of at most n (0 turns clipping off).
func (o Options) ClipNorm(n float64) Options { o.Settings.ClipNorm = n; return o }

// ZeroInitResidual starts every residual block of a ResNet or EfficientNet as the identity (its last
// batch-norm scale zero: torchvision's zero_init_residual=True, timm's zero_init_last); families without
// residual blocks ignore it.
func (o Options) ZeroInitResidual() Options { o.Settings.ZeroInitResidual = true; return o }

// Mixup blends each training batch with itself reversed by lambda ~ Beta(alpha, alpha) (see
// Settings.Mixup; 0.2-0.4 typical, 0 off). It regularises a model that over-fits a small training set.
func (o Options) Mixup(alpha float64) Options { o.Settings.Mixup = alpha; return o }

// CutMix pastes a random box of each training image from another image of the batch, blending the targets
// by the box's area (see Settings.CutMix; 1.0 typical, 0 off). Deep models only; not with Mixup.
func (o Options) CutMix(alpha float64) Options { o.Settings.CutMix = alpha; return o }

// OutputDir saves config.json, history.json and checkpoints there, and resumes an interrupted run found
// there. Without it nothing is written.
func (o Options) OutputDir(dir string) Options { o.outputDir = dir; return o }

// Progress sets the progress callback (default: a terminal line on stderr).
func (o Options) Progress(p Progress) Options { o.progress, o.quiet = p, false; return o }

// Quiet turns progress reporting off.
func (o Options) Quiet() Options { o.quiet = true; return o }

// Backend overrides the GoMLX backend (default backend.Default()).
func (o Options) Backend(b backends.Backend) Options { o.backend = b; return o }

// Devices trains data-parallel on n devices of the backend (0: all of them; default one device): each
// batch is split along its batch axis over a 1-D mesh of the devices, the weights are replicated, and XLA
// all-reduces the gradients (GoMLX's distributed AutoSharding). The step computes the same function of
// the global batch as on one device (batch norm included: its statistics are over the whole batch, as
// PyTorch's SyncBatchNorm), so the device count is not a setting of the run: it is not saved in
// config.json, a trained model is reused and a checkpoint resumed whatever the count. The batch size must
// divide by n; n > 1 needs the XLA backend. Validation and prediction run on the first device.
func (o Options) Devices(n int) Options {
	if n == 0 {
		n = allDevices
	}
	o.devices = n
	return o
}

// validate checks the ranges of the settings (NaN is out of every range).
func (s Settings) validate() error {
	if err := s.Optimizer.validate(); err != nil {
		return err
	}
	if s.Epochs < 1 {
		return fmt.Errorf("epochs = %d: need at least 1", s.Epochs)
	}
	if s.BatchSize < 1 {
		return fmt.Errorf("batch size = %d: need at least 1", s.BatchSize)
	}
	if !(s.LabelSmoothing >= 0 && s.LabelSmoothing < 1) {
		return fmt.Errorf("label smoothing %v out of range [0, 1)", s.LabelSmoothing)
	}
	if !(s.ClipNorm >= 0) || math.IsInf(s.ClipNorm, 0) {
		return fmt.Errorf("gradient clipping norm %v: need 0 (off) or a positive number", s.ClipNorm)
	}
	if !(s.Mixup >= 0 && s.Mixup <= maxMixup) {
		return fmt.Errorf("mixup alpha %v out of range [0, %v] (0 turns it off)", s.Mixup, maxMixup)
	}
	if !(s.CutMix >= 0 && s.CutMix <= maxMixup) {
		return fmt.Errorf("cutmix alpha %v out of range [0, %v] (0 turns it off)", s.CutMix, maxMixup)
	}
	if s.CutMix > 0 && s.Mixup > 0 {
		return fmt.Errorf("mixup (alpha %v) and cutmix (alpha %v) are both on: choose one", s.Mixup, s.CutMix)
	}
	if s.Patience < 0 {
		return fmt.Errorf("early-stopping patience %d: need 0 (off) or more", s.Patience)
	}
	return nil
}

// restoresBest reports whether the run puts back the best epoch's weights: early stopping is on and asks to.
func (s Settings) restoresBest() bool { return s.RestoreBest && s.Patience > 0 }

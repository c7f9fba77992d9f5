package mlkit

import (
	"fmt"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/mobilenetv2"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train"
)

// MaxBackboneLRFactor is the largest BackboneLRFactor accepted.
const MaxBackboneLRFactor = 1e6

// DefaultFineTuneSize is the training resolution of a fine-tuned model when Size is not called.
const DefaultFineTuneSize = 224

// fineTuneSettings are what FineTune, FrozenEpochs, BackboneLRFactor, BackboneGroups and Weights set.
type fineTuneSettings struct {
	frozenEpochs int     // 0: train.FrozenDefaults' epochs
	lrFactor     float64 // 0: train.DefaultBackboneLRFactor
	groups       int     // 0: one group
	weights      string  // "": train.DefaultWeights
}

// FineTune makes this a network fine-tuned from pretrained weights (fastai's fine_tune): family is a
// trainable name of the model registry with pretrained weights, "mobilenet_v2_035" (the TF.js ImageNet
// weights of the shared folder), or a ResNet/EfficientNet given its torchvision safetensors with Weights.
// Its new head is first trained alone on the frozen backbone's features (FrozenEpochs; at 224 px on
// MobileNetV2-0.35, the app's cached embeddings), then the whole network for Epochs with the backbone at
// LR / BackboneLRFactor (see train.FineTune). Size, Epochs, BatchSize, LR and Options set the unfrozen
// phase (defaults train.FineTuneDefaults, seed 42); TuneDeep is not used.
//
//	app.Train("finetuned").OnDataset("animals").FineTune("mobilenet_v2_035").Size(160).FrozenEpochs(60).Epochs(1).LR(1e-4).Run()
func (b *TrainBuilder) FineTune(family string) *TrainBuilder {
	b.family, b.embedder = family, ""
	if b.fineTune == nil {
		b.fineTune = &fineTuneSettings{}
	}
	return b
}

// FrozenEpochs sets the epochs of a fine-tuned model's frozen phase (the head alone on the backbone's
// features; milliseconds each). Call FineTune first.
func (b *TrainBuilder) FrozenEpochs(n int) *TrainBuilder {
	b.opts.intIn("FrozenEpochs", n, 1, MaxEpochs)
	if !b.fineTuning("FrozenEpochs") {
		return b
	}
	b.fineTune.frozenEpochs = n
	return b
}

// BackboneLRFactor sets a fine-tuned model's discriminative learning rate: once unfrozen, the pretrained
// backbone trains at LR / factor and the head at LR (default train.DefaultBackboneLRFactor). Call
// FineTune first.
func (b *TrainBuilder) BackboneLRFactor(factor float64) *TrainBuilder {
	b.opts.floatIn("BackboneLRFactor", factor, 1, MaxBackboneLRFactor)
	if !b.fineTuning("BackboneLRFactor") {
		return b
	}
	b.fineTune.lrFactor = factor
	return b
}

// BackboneGroups spreads a fine-tuned model's backbone learning rates over n groups of consecutive layers
// (fastai's slice(lo, hi)): group g, 0 nearest the input, trains at LR / factor^((n-g)/n), factor the
// BackboneLRFactor, the head at LR; default 1 (the whole backbone at LR / factor). n = 2 with factor 100
// is fastai's fine_tune (see train.FineTuneBuilder.BackboneGroups). Call FineTune first.
func (b *TrainBuilder) BackboneGroups(n int) *TrainBuilder {
	b.opts.intIn("BackboneGroups", n, 1, train.MaxBackboneGroups)
	if !b.fineTuning("BackboneGroups") {
		return b
	}
	b.fineTune.groups = n
	return b
}

// Weights sets a fine-tuned model's pretrained weights: a TF.js layers folder (Keras MobileNetV2) or a
// torchvision state dict in safetensors (ResNet, EfficientNet). Call FineTune first.
func (b *TrainBuilder) Weights(path string) *TrainBuilder {
	if !b.fineTuning("Weights") {
		return b
	}
	b.fineTune.weights = path
	return b
}

// fineTuneTrainer is a fine-tuning run as Run and LRFind see it.
type fineTuneTrainer struct{ *train.FineTuneBuilder }

// fineTuneConfigure returns the configure function of a fine-tuning run. At the embedder's own
// resolution with its own weights, the frozen phase reads the app's cached embeddings (computing the
// missing ones), which are the frozen backbone's features up to resampling (the embedder resizes
// bilinearly, training Lanczos).
func (b *TrainBuilder) fineTuneConfigure(fam zoo.Spec, cfg models.Config, classes []string, tr, va []train.Example,
	prog train.Progress, dir, desc string) (func(be backends.Backend) (trainer, train.RunConfig), error) {
	s := *b.fineTune
	var ftr, fva []train.Embedded
	if fam.Embedder != nil && fam.Name == DefaultEmbedder && s.weights == "" && cfg.InputSize == mobilenetv2.DefaultSize {
		emb, err := b.app.Embed(fam.Name)
		if err != nil {
			return nil, err
		}
		pick := func(ex []train.Example) ([]train.Embedded, error) {
			out := make([]train.Embedded, len(ex))
			for i, e := range ex {
				vec := emb.Vector(e.ID)
				if vec == nil {
					return nil, fmt.Errorf("mlkit: train %q: input %d has no %s embedding", b.name, e.ID, fam.Name)
				}
				out[i] = train.Embedded{ID: e.ID, Vector: vec, Label: e.Label}
			}
			return out, nil
		}
		if ftr, err = pick(tr); err != nil {
			return nil, err
		}
		if fva, err = pick(va); err != nil {
			return nil, err
		}
	}
	return func(be backends.Backend) (trainer, train.RunConfig) {
		f := train.FineTune(fam, cfg).Data(classes, tr, va).CacheDir(filepath.Join(b.app.Dir(), "cache", "pixels")).
			With(b.runOptions(train.FineTuneDefaults(), prog, dir, desc, be))
		if s.frozenEpochs > 0 {
			f = f.FrozenEpochs(s.frozenEpochs)
		}
		if s.lrFactor > 0 {
			f = f.BackboneLRFactor(s.lrFactor)
		}
		if s.groups > 0 {
			f = f.BackboneGroups(s.groups)
		}
		if s.weights != "" {
			f = f.Weights(s.weights)
		}
		if ftr != nil {
			f = f.FrozenFeatures(ftr, fva)
		}
		return fineTuneTrainer{f}, f.Planned()
	}, nil
}

// fineTuning reports whether FineTune was called, recording an error naming the option when not.
func (b *TrainBuilder) fineTuning(option string) bool {
	if b.fineTune == nil {
		b.opts.errs = append(b.opts.errs, fmt.Errorf("%s: call FineTune first: %w", option, ErrBadOption))
		return false
	}
	return true
}

package train

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/mobilenetv2"
	"github.com/visionnb/visionnb/mlkit/models/nn"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// KindFineTune is the RunConfig Kind of a network fine-tuned from pretrained weights (see FineTune).
const KindFineTune = "finetune"

// FrozenDir is the sub-folder of a fine-tuned run's output directory that holds its frozen phase (the
// head trained alone on the backbone's features), saved as a head run.
const FrozenDir = "frozen"

// backboneScope is the context scope, under the model scope, of a fine-tuned model's pretrained backbone;
// its head lives beside it ("logits", as a Head's).
const backboneScope = "backbone"

// DefaultBackboneLRFactor divides the head's learning rate to give the pretrained backbone's when the
// model is unfrozen (fastai's fine_tune trains the earliest layers at lr/100 and the head at lr; one
// factor for the whole backbone here).
const DefaultBackboneLRFactor = 10

// FineTuneDefaults are the options of the unfrozen phase of fine-tuning: AdamW with LR 1e-4 for the head
// (the backbone's is LR / BackboneLRFactor), weight decay 1e-4, cosine schedule, 1 epoch, batch 32. Chosen
// by measurement on the 472 shared photos (MobileNetV2-0.35, 160 px, after 60 frozen epochs): validation
// 0.944 with LR 1e-4; 0.930 with 5e-4 (one epoch, and after two); more epochs cost ~15 s each on 2 cores.
func FineTuneDefaults() Options { return DeepDefaults().LR(1e-4).Epochs(1) }

// FrozenDefaults are the options of the frozen phase of fine-tuning (the head alone, on the backbone's
// pooled features): those of a head (HeadDefaults: AdamW LR 1e-3, 50 epochs, batch 32).
func FrozenDefaults() Options { return HeadDefaults() }

// FineTuneBuilder configures fastai's fine_tune: a network of a registered family starts from pretrained
// weights; its new head is first trained alone with the backbone frozen (FrozenEpochs), then the whole
// network is unfrozen and trained (Options.Epochs) with the backbone at a lower learning rate
// (BackboneLRFactor).
//
// The frozen phase is exactly a head on the backbone's global-average-pooled features: with the backbone
// frozen (batch normalisation on its moving statistics, as Keras and torchvision do for a frozen
// backbone) nothing before the head changes, so it is trained as a Head on those features, computed once
// per image without augmentation (or given with FrozenFeatures, e.g. the app's cached embeddings), and the
// unfrozen phase starts from that head. Augmentation (Augment) applies to the unfrozen phase only.
//
// Batch normalisation once unfrozen: MobileNetV2 keeps normalising with the pretrained moving statistics
// and trains only gamma and beta (mobilenetv2.ParamFrozenBN, Keras' advice for small data); ResNet and
// EfficientNet (torchvision weights) use batch statistics and update their moving averages, as
// torchvision's fine-tuning does.
//
//	res, err := train.FineTune(zoo.MustLookup("mobilenet_v2_035"), models.New().Size(160)).
//		Data(classes, trainSet, valSet).FrozenEpochs(50).With(train.FineTuneDefaults().OutputDir(out)).Fit()
type FineTuneBuilder struct {
	family                 zoo.Spec
	classes                []string
	train, val             []Example
	cfg                    RunConfig
	opts, frozen           Options
	frozenTrain, frozenVal []Embedded
	featuresGiven          bool
	cacheDir               string
}

// FineTune starts a configuration for fine-tuning the registered family (see package zoo) from its
// pretrained weights, with model configuration cfg (NumClasses is set from the class names; InputSize is
// the training resolution, 224 when 0). Its weights are those set with Weights; without it, for
// "mobilenet_v2_035", the TF.js ImageNet weights of the shared folder (see embed.MobileNetV2Dir).
func FineTune(family zoo.Spec, cfg models.Config) *FineTuneBuilder {
	if cfg.InputSize <= 0 {
		cfg.InputSize = 224
	}
	return &FineTuneBuilder{family: family, cfg: RunConfig{Kind: KindFineTune, Family: family.Name, Model: cfg,
		InputSize: cfg.InputSize, Normalization: family.Normalization, Augment: pipeline.DefaultAugment(),
		BackboneLRFactor: DefaultBackboneLRFactor}, opts: FineTuneDefaults(), frozen: FrozenDefaults()}
}

// Data sets the class names and the training and validation splits (validation may be empty).
func (f *FineTuneBuilder) Data(classes []string, train, val []Example) *FineTuneBuilder {
	f.classes, f.train, f.val = slices.Clone(classes), train, val
	return f
}

// Weights sets the pretrained weights: a TF.js layers folder (model.json + shards, Keras MobileNetV2) or a
// torchvision state dict in safetensors (one file or a sharded folder, ResNet or EfficientNet; its
// ImageNet classifier, keys "fc." or "classifier.", is left out).
func (f *FineTuneBuilder) Weights(path string) *FineTuneBuilder { f.cfg.Pretrained = path; return f }

// FrozenEpochs sets the epochs of the frozen phase (the head alone), default FrozenDefaults' 50: on
// pooled features an epoch takes milliseconds.
func (f *FineTuneBuilder) FrozenEpochs(n int) *FineTuneBuilder {
	f.frozen = f.frozen.Epochs(n)
	return f
}

// FrozenOptions sets all the training options of the frozen phase (start from FrozenDefaults); the seed,
// backend, progress and output folder are those of With's options.
func (f *FineTuneBuilder) FrozenOptions(o Options) *FineTuneBuilder { f.frozen = o; return f }

// BackboneLRFactor sets the discriminative learning rate of the unfrozen phase: the pretrained backbone
// trains at LR / factor, the head at LR (default DefaultBackboneLRFactor; 1: one rate for all). With
// BackboneGroups, factor is the ratio between the head's rate and the earliest group's.
func (f *FineTuneBuilder) BackboneLRFactor(factor float64) *FineTuneBuilder {
	f.cfg.BackboneLRFactor = factor
	return f
}

// MaxBackboneGroups is the largest BackboneGroups accepted.
const MaxBackboneGroups = 64

// BackboneGroups spreads the unfrozen backbone's learning rates over n groups of consecutive layers, as
// fastai's slice(lo, hi) does over a model's layer groups: the backbone's weight tensors, in the order
// of the network (the pretrained file's order, the same on every run and resume), are cut into n groups of
// equal count, and group g (0 nearest the input) trains at LR / factor^((n-g)/n), factor the
// BackboneLRFactor; the head at LR. n = 2 with factor 100 is fastai's fine_tune (lr/100, lr/10, lr);
// 1 (the default) gives the whole backbone LR / factor.
func (f *FineTuneBuilder) BackboneGroups(n int) *FineTuneBuilder {
	f.cfg.BackboneGroups = n
	return f
}

// FrozenFeatures gives the frozen phase the backbone's pooled features of every training and validation
// example (same order and IDs as Data's), e.g. cached embeddings of the same pretrained network at the
// same resolution, instead of computing them.
func (f *FineTuneBuilder) FrozenFeatures(train, val []Embedded) *FineTuneBuilder {
	f.frozenTrain, f.frozenVal, f.featuresGiven = train, val, true
	return f
}

// With sets the training options of the unfrozen phase (start from FineTuneDefaults); its output folder,
// seed, progress and backend serve both phases.
func (f *FineTuneBuilder) With(o Options) *FineTuneBuilder { f.opts = o; return f }

// Options returns the unfrozen phase's options set so far.
func (f *FineTuneBuilder) Options() Options { return f.opts }

// CacheDir keeps decoded, resized pixels there (keyed by file content and size) for later runs and cells.
func (f *FineTuneBuilder) CacheDir(dir string) *FineTuneBuilder { f.cacheDir = dir; return f }

// Augment sets the unfrozen phase's augmentation (see pipeline.DefaultAugment).
func (f *FineTuneBuilder) Augment(o pipeline.AugmentOptions) *FineTuneBuilder {
	f.cfg.Augment = o
	return f
}

// NoAugment turns augmentation off.
func (f *FineTuneBuilder) NoAugment() *FineTuneBuilder {
	f.cfg.Augment = pipeline.AugmentOptions{}
	return f
}

// Planned returns the RunConfig that Fit would save as config.json (Backend left empty), without
// validating, loading weights or training: compare it with a saved run using Inspect.
func (f *FineTuneBuilder) Planned() RunConfig {
	cfg := f.cfg
	cfg.Settings = f.opts.Settings
	cfg.Classes = slices.Clone(f.classes)
	cfg.Model.NumClasses = len(f.classes)
	cfg.Model.InputSize = cfg.InputSize
	cfg.NumTrain, cfg.NumVal = len(f.train), len(f.val)
	cfg.BatchSize = cappedBatch(cfg.BatchSize, cfg.NumTrain)
	if cfg.Pretrained == "" {
		cfg.Pretrained, _ = DefaultWeights(f.family.Name)
	}
	frozen := f.frozen.Settings
	frozen.Seed, frozen.Dataset = f.opts.Settings.Seed, f.opts.Settings.Dataset
	frozen.BatchSize = cappedBatch(frozen.BatchSize, cfg.NumTrain)
	cfg.Frozen = &frozen
	cfg.Backend = ""
	return cfg
}

// DefaultWeights returns the pretrained weights FineTune uses for family when Weights is not called: the
// shared TF.js folder of MobileNetV2 alpha 0.35 (offline: nothing is downloaded). Other families have
// none here: give their torchvision safetensors with Weights.
func DefaultWeights(family string) (string, error) {
	if zoo.Canonical(family) != embed.MobileNetV2035 {
		return "", fmt.Errorf("fine-tuning %s: no default pretrained weights for it; give a torchvision state dict in safetensors with Weights (CLI: --weights)", family)
	}
	dir, err := embed.MobileNetV2Dir("", 0.35, true)
	if err != nil {
		return "", fmt.Errorf("fine-tuning %s: %w", family, err)
	}
	return dir, nil
}

// Fit validates the input, loads the pretrained weights, trains the head on the frozen backbone's
// features, then the whole network, and returns the result: History holds the frozen phase's epochs
// (1..FrozenEpochs) then the unfrozen ones, Elapsed both phases and the features.
func (f *FineTuneBuilder) Fit() (*Result, error) {
	start := time.Now()
	res, err := f.fit()
	if err != nil {
		return nil, fmt.Errorf("fine-tuning %s: %w", f.family.Name, err)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func (f *FineTuneBuilder) fit() (*Result, error) {
	e, res1, cache, err := f.newEngine()
	if err != nil {
		return nil, err
	}
	res2, err := e.fit()
	if err != nil {
		return nil, fmt.Errorf("unfrozen phase: %w", err)
	}
	res2.Predictor.cache = cache
	return joinPhases(res1.History, res2), nil
}

// newEngine validates the input, loads the pretrained weights and the images, runs the frozen phase and
// returns the engine of the unfrozen phase (which starts from the pretrained backbone and the frozen
// phase's head), the frozen phase's result and the pixel cache.
func (f *FineTuneBuilder) newEngine() (*engine, *Result, pipeline.Cache, error) {
	var cache pipeline.Cache
	fail := func(err error) (*engine, *Result, pipeline.Cache, error) { return nil, nil, cache, err }
	if f.family.Build == nil || f.family.Name == "" {
		return fail(fmt.Errorf("the model family %q needs a Name and a Build function", f.family.Name))
	}
	if err := f.family.Normalization.Validate(); err != nil {
		return fail(err)
	}
	if err := validateClasses(f.classes); err != nil {
		return fail(err)
	}
	if err := validateExamples("train", f.train, f.classes, true); err != nil {
		return fail(err)
	}
	if err := validateExamples("validation", f.val, f.classes, false); err != nil {
		return fail(err)
	}
	if err := f.cfg.Augment.Validate(); err != nil {
		return fail(err)
	}
	if f.cfg.InputSize < 8 {
		return fail(fmt.Errorf("input size %d px is too small", f.cfg.InputSize))
	}
	if !(f.cfg.BackboneLRFactor >= 1) {
		return fail(fmt.Errorf("backbone learning-rate factor %v: need >= 1 (the backbone trains at LR / factor)", f.cfg.BackboneLRFactor))
	}
	if f.cfg.BackboneGroups < 0 || f.cfg.BackboneGroups > MaxBackboneGroups {
		return fail(fmt.Errorf("backbone groups %d: need 1 to %d (0: one group)", f.cfg.BackboneGroups, MaxBackboneGroups))
	}
	cfg := f.Planned()
	if cfg.Pretrained == "" {
		if _, err := DefaultWeights(f.family.Name); err != nil {
			return fail(err)
		}
	}
	if err := cfg.Frozen.validate(); err != nil {
		return fail(fmt.Errorf("frozen phase: %w", err))
	}
	b, name, err := f.opts.resolveBackend()
	if err != nil {
		return fail(err)
	}
	cfg.Backend = name
	pre, err := LoadPretrained(b, f.family, cfg.Model, cfg.Pretrained)
	if err != nil {
		return fail(err)
	}
	cache = pipeline.Cache{Dir: f.cacheDir}
	trainSrc, err := newImageSource(cache, f.train, cfg.InputSize, cfg.Augment, cfg.Seed)
	if err != nil {
		return fail(fmt.Errorf("loading the training images: %w", err))
	}
	var valSrc *imageSource
	if len(f.val) > 0 {
		if valSrc, err = newImageSource(cache, f.val, cfg.InputSize, cfg.Augment, cfg.Seed); err != nil {
			return fail(fmt.Errorf("loading the validation images: %w", err))
		}
	}

	// Phase 1: the head alone on the frozen backbone's pooled features.
	ftrain, fval := f.frozenTrain, f.frozenVal
	if f.featuresGiven {
		if err := checkFeatures("training", ftrain, f.train); err != nil {
			return fail(err)
		}
		if err := checkFeatures("validation", fval, f.val); err != nil {
			return fail(err)
		}
	} else {
		if ftrain, fval, err = pre.features(b, f.family, cfg, trainSrc, valSrc, f.train, f.val); err != nil {
			return fail(err)
		}
	}
	frozenOpts := Options{Settings: *cfg.Frozen, backend: b, quiet: true}
	if f.opts.outputDir != "" {
		frozenOpts = frozenOpts.OutputDir(filepath.Join(f.opts.outputDir, FrozenDir))
	}
	head := Head(f.classes, ftrain, fval).With(frozenOpts).Dropout(cfg.Dropout)
	res1, err := head.Fit()
	if err != nil {
		return fail(fmt.Errorf("frozen phase: %w", err))
	}

	// Phase 2: the whole network, from the pretrained backbone and the phase-1 head.
	e := newEngine(b, name, fineTuneModel(f.family, &cfg), &cfg, f.opts, trainSrc)
	if valSrc != nil {
		e.val = valSrc
	}
	headCtx := res1.Predictor.Context()
	e.prepare = func(ctx *context.Context, fresh bool) error {
		ctx.SetParam(mobilenetv2.ParamFrozenBN, true)
		if !fresh {
			return nil
		}
		if err := pre.into(ctx.In(modelScope).In(backboneScope)); err != nil {
			return err
		}
		return copyModelVariables(headCtx, ctx)
	}
	e.lrScale = backboneLRScale(pre, cfg.BackboneLRFactor, cfg.BackboneGroups)
	return e, res1, cache, nil
}

// backboneLRScale returns the learning-rate multiplier of each variable of a fine-tuned model: 1 for the
// head; for the backbone, 1 / factor^((n-g)/n) with n groups (n <= 1: one, 1 / factor) and g the group
// of the variable's weight tensor, by its position among the pretrained trainable tensors (pre's order:
// the network's, the same on every run). A backbone variable pre does not have (none should) gets the
// earliest group's rate.
func backboneLRScale(pre *Pretrained, factor float64, n int) func(v *context.Variable) float64 {
	n = max(n, 1)
	rank := map[string]int{}
	for _, v := range pre.vars {
		if v.trainable {
			rank[v.scope+"\x00"+v.name] = len(rank)
		}
	}
	count := max(len(rank), 1)
	prefix := "/" + modelScope + "/" + backboneScope
	return func(v *context.Variable) float64 {
		if v.Scope() != prefix && !strings.HasPrefix(v.Scope(), prefix+"/") {
			return 1
		}
		rel := strings.TrimPrefix(v.Scope(), prefix)
		if rel == "" {
			rel = context.ScopeSeparator
		}
		g := 0
		if i, ok := rank[rel+"\x00"+v.Name()]; ok {
			g = min(i*n/count, n-1)
		}
		return math.Pow(factor, -float64(n-g)/float64(n))
	}
}

// joinPhases returns res (the unfrozen phase) with the frozen phase's epochs before its own, numbered on.
func joinPhases(frozen []EpochStats, res *Result) *Result {
	n := len(frozen)
	hist := slices.Clone(frozen)
	for _, st := range res.History {
		st.Epoch += n
		hist = append(hist, st)
	}
	res.History = hist
	if res.BestEpoch > 0 {
		res.BestEpoch += n
	}
	return res
}

// checkFeatures checks that given features match the examples one to one (same IDs and labels).
func checkFeatures(split string, feats []Embedded, ex []Example) error {
	if len(feats) != len(ex) {
		return fmt.Errorf("FrozenFeatures: %d %s features for %d %s examples", len(feats), split, len(ex), split)
	}
	for i := range feats {
		if feats[i].ID != ex[i].ID || feats[i].Label != ex[i].Label {
			return fmt.Errorf("FrozenFeatures: %s feature %d is for example %d (label %d), but example %d is %d (label %d)",
				split, i, feats[i].ID, feats[i].Label, i, ex[i].ID, ex[i].Label)
		}
	}
	return nil
}

// fineTuneModel is a fine-tuned network: uint8 pixels normalised in-graph, the family's backbone (its
// Build without classes: pooled features) under scope "backbone", then a Head's layers ("logits").
func fineTuneModel(fam zoo.Spec, cfg *RunConfig) modelFn {
	backboneCfg := cfg.Model
	backboneCfg.NumClasses = 0
	head := headModel(cfg, "product")
	return func(ctx *context.Context, x *Node) *Node {
		feats := fam.Build(ctx.In(backboneScope).Checked(false), normalizeGraph(x, cfg.Normalization), backboneCfg)
		return head(ctx.Checked(false), feats) // the frozen phase's head is already there on a fresh run
	}
}

// copyModelVariables sets every variable of src's model scope in dst (same scope and name).
func copyModelVariables(src, dst *context.Context) error {
	n := 0
	for v := range src.IterVariables() {
		if !isModelVar(v) {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("reading the frozen phase's %s: %w", v.ScopeAndName(), err)
		}
		c, err := t.LocalClone()
		if err != nil {
			return fmt.Errorf("copying the frozen phase's %s: %w", v.ScopeAndName(), err)
		}
		dst.InAbsPath(v.Scope()).Checked(false).VariableWithValue(v.Name(), c)
		n++
	}
	if n == 0 {
		return errors.New("the frozen phase's head has no variables")
	}
	return nil
}

// Pretrained holds a family's pretrained backbone weights, read by LoadPretrained: variables by scope
// (relative to the backbone) and name.
type Pretrained struct {
	// Path is the weights file or folder they were read from.
	Path string
	vars []pretrainedVar
}

type pretrainedVar struct {
	scope, name string
	value       *tensors.Tensor
	trainable   bool
}

// Len returns the number of weight tensors.
func (p *Pretrained) Len() int { return len(p.vars) }

// LoadPretrained reads the pretrained backbone of family (its Build with cfg, classes ignored) from path:
// a TF.js layers folder (model.json + shards; Keras MobileNetV2) or a torchvision state dict in
// safetensors (a file or a sharded folder), whose ImageNet classifier ("fc." or "classifier." keys) is
// left out. Every backbone variable must come from the file with its exact shape, and, for safetensors,
// every other tensor must be a backbone variable: anything else is an error naming what does not match.
func LoadPretrained(b backends.Backend, family zoo.Spec, cfg models.Config, path string) (*Pretrained, error) {
	if path == "" {
		return nil, fmt.Errorf("pretrained weights for %s: no path given", family.Name)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pretrained weights for %s: %w", family.Name, err)
	}
	cfg.NumClasses = 0
	ctx := context.New()
	if _, err := os.Stat(filepath.Join(path, "model.json")); st.IsDir() && err == nil {
		if err := mobilenetv2.LoadTFJS(ctx, path); err != nil {
			return nil, fmt.Errorf("pretrained weights for %s: %w", family.Name, err)
		}
		loaded := ctx.NumVariables()
		if err := nn.Declare(b, ctx, family.Build, cfg); err != nil {
			return nil, fmt.Errorf("pretrained weights for %s in %s do not fit its architecture: %w", family.Name, path, err)
		}
		if extra := ctx.NumVariables() - loaded; extra > 0 {
			return nil, fmt.Errorf("pretrained weights for %s in %s: %d of the model's variables are not in the file (a TF.js MobileNetV2 cannot be loaded into %s)", family.Name, path, extra, family.Name)
		}
	} else {
		if err := nn.Declare(b, ctx, family.Build, cfg); err != nil {
			return nil, fmt.Errorf("pretrained weights for %s: %w", family.Name, err)
		}
		if err := nn.LoadTorchSafetensorsExcept(ctx, path, isTorchClassifier); err != nil {
			return nil, fmt.Errorf("pretrained weights for %s: %w", family.Name, err)
		}
	}
	p := &Pretrained{Path: path}
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Name(), "#") {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("pretrained weights for %s: %s has no value: %w", family.Name, v.ScopeAndName(), err)
		}
		p.vars = append(p.vars, pretrainedVar{scope: v.Scope(), name: v.Name(), value: t, trainable: v.Trainable})
	}
	return p, nil
}

// isTorchClassifier reports whether a torchvision state-dict key belongs to the ImageNet classifier that
// fine-tuning replaces (ResNet's "fc", EfficientNet's "classifier").
func isTorchClassifier(key string) bool {
	return strings.HasPrefix(key, "fc.") || strings.HasPrefix(key, "classifier.")
}

// into creates the weights in ctx's scope (copies: ctx's variables change while training).
func (p *Pretrained) into(ctx *context.Context) error {
	base := strings.TrimSuffix(ctx.Scope(), context.ScopeSeparator)
	for _, v := range p.vars {
		scope := base + v.scope
		if v.scope == context.ScopeSeparator {
			scope = base
		}
		c, err := v.value.LocalClone()
		if err != nil {
			return fmt.Errorf("copying the pretrained %s/%s: %w", v.scope, v.name, err)
		}
		ctx.InAbsPath(scope).Checked(false).VariableWithValue(v.name, c).SetTrainable(v.trainable)
	}
	return nil
}

// features returns the pooled features of the backbone on the training and validation images, without
// augmentation and in inference mode (batch normalisation on its moving statistics): exactly what the
// frozen backbone feeds the head.
func (p *Pretrained) features(b backends.Backend, fam zoo.Spec, cfg RunConfig, tr, va *imageSource, trEx, vaEx []Example) (ftr, fva []Embedded, err error) {
	ctx := context.New()
	if err := p.into(ctx.In(backboneScope)); err != nil {
		return nil, nil, err
	}
	backboneCfg := cfg.Model
	backboneCfg.NumClasses = 0
	exec, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), false)
		return ConvertDType(fam.Build(ctx.In(backboneScope).Checked(false), normalizeGraph(x, cfg.Normalization), backboneCfg), dtypes.Float32)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the feature extractor: %w", err)
	}
	defer exec.Finalize()
	batch := max(1, cfg.Frozen.BatchSize, cfg.BatchSize)
	run := func(src *imageSource, ex []Example) ([]Embedded, error) {
		if src == nil {
			return nil, nil
		}
		n := src.Len()
		out := make([]Embedded, 0, n)
		idx := make([]int, batch)
		for start := 0; start < n; start += batch {
			valid := min(batch, n-start)
			for k := range idx {
				idx[k] = start + min(k, valid-1)
			}
			x, err := src.Batch(idx, 0, false)
			if err != nil {
				return nil, err
			}
			res, err := runExec(exec, x)
			x.FinalizeAll()
			if err != nil {
				return nil, fmt.Errorf("computing the backbone's features of batch at %d: %w", start, err)
			}
			flat := tensors.MustCopyFlatData[float32](res[0])
			res[0].FinalizeAll()
			dim := len(flat) / batch
			for k := range valid {
				i := start + k
				out = append(out, Embedded{ID: ex[i].ID, Label: ex[i].Label, Vector: slices.Clone(flat[k*dim : (k+1)*dim])})
			}
		}
		return out, nil
	}
	if ftr, err = run(tr, trEx); err != nil {
		return nil, nil, err
	}
	if fva, err = run(va, vaEx); err != nil {
		return nil, nil, err
	}
	return ftr, fva, nil
}

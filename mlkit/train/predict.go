package train

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// Predictor computes class probabilities with trained weights: from image files or decoded images for a
// deep model, from embedding vectors for a head. Probabilities are a softmax over classes, or independent
// sigmoids for multi-label heads. It is not safe for concurrent use.
type Predictor struct {
	config     *RunConfig
	ctx        *context.Context
	exec       *context.Exec
	batchSize  int
	numClasses int
	multiLabel bool
	cache      pipeline.Cache
	flipTTA    bool
}

// SetFlipTTA turns horizontal-flip test-time augmentation on or off for deep models: each image's
// probabilities are the mean of the model's on the image and on its mirror image (the training
// augmentation's flip), at twice the inference cost.
func (p *Predictor) SetFlipTTA(on bool) { p.flipTTA = on }

// Config returns the run's configuration (a copy).
func (p *Predictor) Config() RunConfig {
	c := *p.config
	c.Classes = slices.Clone(c.Classes)
	return c
}

// Classes returns the class names, index = column of the probabilities.
func (p *Predictor) Classes() []string { return slices.Clone(p.config.Classes) }

// Context returns the GoMLX context holding the weights (variables under scope "/model").
func (p *Predictor) Context() *context.Context { return p.ctx }

// SetCacheDir makes Predict cache prepared pixels in dir (see pipeline.Cache).
func (p *Predictor) SetCacheDir(dir string) { p.cache = pipeline.Cache{Dir: dir} }

// PredictVectors returns probabilities [len(vectors)][classes] for a head.
func (p *Predictor) PredictVectors(vectors [][]float32) ([][]float32, error) {
	if p.config.Kind != "head" {
		return nil, fmt.Errorf("PredictVectors: this is a %q model; use Predict with images", p.config.Kind)
	}
	dim := p.config.EmbeddingDim
	for i, v := range vectors {
		if len(v) != dim {
			return nil, fmt.Errorf("PredictVectors: vector %d has %d values, the head expects %d", i, len(v), dim)
		}
	}
	return p.run(len(vectors), func(idx []int) (*tensors.Tensor, error) {
		buf := make([]float32, len(idx)*dim)
		for k, i := range idx {
			copy(buf[k*dim:], vectors[i])
		}
		return tensors.FromFlatDataAndDimensions(buf, len(idx), dim), nil
	})
}

// Predict returns probabilities [len(paths)][classes] for image files (deep models).
func (p *Predictor) Predict(paths []string) ([][]float32, error) {
	if !p.config.imageModel() {
		return nil, fmt.Errorf("Predict: this is a %q model; use PredictVectors with embeddings", p.config.Kind)
	}
	px, err := p.cache.LoadAll(paths, p.config.InputSize)
	if err != nil {
		return nil, fmt.Errorf("Predict: %w", err)
	}
	return p.predictPixels(px)
}

// PredictImages returns probabilities [len(images)][classes] for decoded images (deep models).
func (p *Predictor) PredictImages(images []image.Image) ([][]float32, error) {
	if !p.config.imageModel() {
		return nil, fmt.Errorf("PredictImages: this is a %q model; use PredictVectors with embeddings", p.config.Kind)
	}
	px := make([][]uint8, len(images))
	for i, img := range images {
		if img == nil {
			return nil, fmt.Errorf("PredictImages: image %d is nil", i)
		}
		px[i] = pipeline.Prepare(img, p.config.InputSize)
	}
	return p.predictPixels(px)
}

func (p *Predictor) predictPixels(px [][]uint8) ([][]float32, error) {
	src := &imageSource{size: p.config.InputSize, pixels: px}
	out, err := p.run(len(px), func(idx []int) (*tensors.Tensor, error) { return src.Batch(idx, 0, false) })
	if err != nil || !p.flipTTA {
		return out, err
	}
	mirrored := make([][]uint8, len(px))
	for i, im := range px {
		mirrored[i] = mirror(im, p.config.InputSize)
	}
	src = &imageSource{size: p.config.InputSize, pixels: mirrored}
	flipped, err := p.run(len(px), func(idx []int) (*tensors.Tensor, error) { return src.Batch(idx, 0, false) })
	if err != nil {
		return nil, err
	}
	for i := range out {
		for c := range out[i] {
			out[i][c] = (out[i][c] + flipped[i][c]) / 2
		}
	}
	return out, nil
}

// mirror returns the left-right mirror of a size x size RGB image (HWC bytes).
func mirror(px []uint8, size int) []uint8 {
	out := make([]uint8, len(px))
	for y := range size {
		row := y * size * 3
		for x := range size {
			copy(out[row+x*3:row+x*3+3], px[row+(size-1-x)*3:row+(size-1-x)*3+3])
		}
	}
	return out
}

// run evaluates n examples in fixed-size padded batches.
func (p *Predictor) run(n int, batch func(idx []int) (*tensors.Tensor, error)) ([][]float32, error) {
	out := make([][]float32, 0, n)
	idx := make([]int, p.batchSize)
	for start := 0; start < n; start += p.batchSize {
		valid := min(p.batchSize, n-start)
		for k := range idx {
			idx[k] = start + min(k, valid-1)
		}
		x, err := batch(idx)
		if err != nil {
			return nil, err
		}
		res, err := runExec(p.exec, x)
		x.FinalizeAll()
		if err != nil {
			return nil, fmt.Errorf("predicting batch at %d: %w", start, err)
		}
		logits := tensors.MustCopyFlatData[float32](res[0])
		res[0].FinalizeAll()
		for k := range valid {
			out = append(out, p.probabilities(logits[k*p.numClasses:(k+1)*p.numClasses]))
		}
	}
	return out, nil
}

func (p *Predictor) probabilities(logits []float32) []float32 {
	probs := make([]float32, len(logits))
	if p.multiLabel {
		for i, z := range logits {
			probs[i] = float32(1 / (1 + math.Exp(-float64(z))))
		}
		return probs
	}
	for i, l := range logSoftmax(logits) {
		probs[i] = float32(math.Exp(l))
	}
	return probs
}

// Load reads a saved run (config.json plus the latest checkpoint, or the best epoch's weights when early
// stopping restored them) and returns a Predictor on backend b (nil: backend.Default()). Deep models need
// their family in the model registry (package zoo) under the name in config.json (or an alias of it).
func Load(dir string) (*Predictor, error) { return LoadOn(dir, nil) }

// LoadOn is Load on a given backend.
func LoadOn(dir string, b backends.Backend) (*Predictor, error) {
	var cfg RunConfig
	if err := readJSON(filepath.Join(dir, ConfigFile), &cfg); err != nil {
		return nil, fmt.Errorf("loading model from %s: %w", dir, err)
	}
	var model modelFn
	switch cfg.Kind {
	case "head":
		model = headModel(&cfg, "product")
	case "deep":
		fam, err := zoo.Lookup(cfg.Family)
		if err != nil {
			return nil, fmt.Errorf("loading model from %s: family in %s: %w", dir, ConfigFile, err)
		}
		if !fam.Trainable() {
			return nil, fmt.Errorf("loading model from %s: family %q in %s has no Build function", dir, cfg.Family, ConfigFile)
		}
		model = deepModel(fam, &cfg)
	case KindFineTune:
		fam, err := zoo.Lookup(cfg.Family)
		if err != nil {
			return nil, fmt.Errorf("loading model from %s: family in %s: %w", dir, ConfigFile, err)
		}
		if !fam.Trainable() {
			return nil, fmt.Errorf("loading model from %s: family %q in %s has no Build function", dir, cfg.Family, ConfigFile)
		}
		model = fineTuneModel(fam, &cfg)
	default:
		return nil, fmt.Errorf("loading model from %s: unknown kind %q in %s", dir, cfg.Kind, ConfigFile)
	}
	b, _, err := Options{backend: b}.resolveBackend()
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	if _, err := checkpoints.Load(ctx).Dir(filepath.Join(dir, CheckpointDir)).Immediate().Done(); err != nil {
		return nil, fmt.Errorf("loading model weights from %s: %w", dir, err)
	}
	markStateNotTrainable(ctx)
	var hist history
	if err := readJSON(filepath.Join(dir, HistoryFile), &hist); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if hist.BestEpoch > 0 && hist.BestEpoch != len(hist.Epochs) {
		best := bestTracker{epoch: hist.BestEpoch}
		if err := best.restoreInto(ctx, dir); err != nil {
			return nil, fmt.Errorf("loading model from %s: %w", dir, err)
		}
	}
	ctx = ctx.Reuse()
	exec, err := newEvalExec(b, ctx, model)
	if err != nil {
		return nil, err
	}
	return &Predictor{config: &cfg, ctx: ctx, exec: exec, batchSize: max(1, cfg.BatchSize),
		numClasses: len(cfg.Classes), multiLabel: cfg.MultiLabel}, nil
}

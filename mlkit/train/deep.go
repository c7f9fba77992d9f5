package train

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// DeepBuilder configures training a model family from scratch on images. Create it with Deep, give it data
// with Data, set deep training's own options here and the shared ones with With, and call Fit.
//
//	res, err := train.Deep(zoo.MustLookup("resnet50"), models.New().Size(64)).Data(classes, trainSet, valSet).CacheDir(cache).
//		With(train.DeepDefaults().OutputDir(out).LR(1e-3).WarmupEpochs(1).LabelSmoothing(0.1).Epochs(20).Seed(1)).Fit()
type DeepBuilder struct {
	family     zoo.Spec
	classes    []string
	train, val []Example
	cfg        RunConfig // deep training's own options; Planned adds opts.Settings and the data's sizes
	opts       Options
	cacheDir   string
}

// Deep starts a configuration for training the registered network family (see package zoo) with model
// configuration cfg (NumClasses is set from the class names; InputSize is the training resolution, 224
// when 0), with RecipeAugment(family) and the options DeepRecipe(family) (DeepDefaults with the family's recipe);
// config.json records family.Name, by which Load finds it again.
func Deep(family zoo.Spec, cfg models.Config) *DeepBuilder {
	if cfg.InputSize <= 0 {
		cfg.InputSize = 224
	}
	return &DeepBuilder{family: family, cfg: RunConfig{Kind: "deep", Family: family.Name, Model: cfg,
		InputSize: cfg.InputSize, Normalization: family.Normalization, Augment: RecipeAugment(family)},
		opts: DeepRecipe(family)}
}

// Data sets the class names and the training and validation splits (validation may be empty).
func (d *DeepBuilder) Data(classes []string, train, val []Example) *DeepBuilder {
	d.classes, d.train, d.val = slices.Clone(classes), train, val
	return d
}

// With sets the training options (optimiser, schedule, epochs, seed, output folder...), replacing the
// earlier ones: start from DeepDefaults, or from Options to change some.
func (d *DeepBuilder) With(o Options) *DeepBuilder { d.opts = o; return d }

// Options returns the training options set so far (DeepRecipe(family) unless With was called).
func (d *DeepBuilder) Options() Options { return d.opts }

// CacheDir keeps decoded, resized pixels there (keyed by file content and size) for later runs and cells.
func (d *DeepBuilder) CacheDir(dir string) *DeepBuilder { d.cacheDir = dir; return d }

// Augment sets the training augmentation (see pipeline.DefaultAugment).
func (d *DeepBuilder) Augment(o pipeline.AugmentOptions) *DeepBuilder { d.cfg.Augment = o; return d }

// NoAugment turns augmentation off.
func (d *DeepBuilder) NoAugment() *DeepBuilder { d.cfg.Augment = pipeline.AugmentOptions{}; return d }

// Fit validates the input, decodes (or reads from the cache) every image, trains and returns the result.
func (d *DeepBuilder) Fit() (*Result, error) {
	e, cache, err := d.newEngine()
	if err != nil {
		return nil, err
	}
	res, err := e.fit()
	if err != nil {
		return nil, fmt.Errorf("deep training %s: %w", d.family.Name, err)
	}
	res.Predictor.cache = cache
	return res, nil
}

// newEngine validates the input, decodes (or reads from the cache) every image and returns the engine of
// the run with the pixel cache it reads.
func (d *DeepBuilder) newEngine() (*engine, pipeline.Cache, error) {
	if d.family.Build == nil || d.family.Name == "" {
		return nil, pipeline.Cache{}, fmt.Errorf("deep training: the model family %q needs a Name and a Build function (pretrained-only models cannot be trained from scratch)", d.family.Name)
	}
	if err := d.family.Normalization.Validate(); err != nil {
		return nil, pipeline.Cache{}, fmt.Errorf("deep training %s: %w", d.family.Name, err)
	}
	if err := validateClasses(d.classes); err != nil {
		return nil, pipeline.Cache{}, err
	}
	if err := validateExamples("train", d.train, d.classes, true); err != nil {
		return nil, pipeline.Cache{}, err
	}
	if err := validateExamples("validation", d.val, d.classes, false); err != nil {
		return nil, pipeline.Cache{}, err
	}
	if err := d.cfg.Augment.Validate(); err != nil {
		return nil, pipeline.Cache{}, err
	}
	if d.cfg.InputSize < 8 {
		return nil, pipeline.Cache{}, fmt.Errorf("deep training: input size %d px is too small", d.cfg.InputSize)
	}
	b, name, err := d.opts.resolveBackend()
	if err != nil {
		return nil, pipeline.Cache{}, err
	}
	cfg := d.Planned()
	cfg.Backend = name
	cache := pipeline.Cache{Dir: d.cacheDir}
	trainSrc, err := newImageSource(cache, d.train, cfg.InputSize, cfg.Augment, cfg.Seed)
	if err != nil {
		return nil, pipeline.Cache{}, fmt.Errorf("deep training: loading the training images: %w", err)
	}
	e := newEngine(b, name, deepModel(d.family, &cfg), &cfg, d.opts, trainSrc)
	if len(d.val) > 0 {
		valSrc, err := newImageSource(cache, d.val, cfg.InputSize, cfg.Augment, cfg.Seed)
		if err != nil {
			return nil, pipeline.Cache{}, fmt.Errorf("deep training: loading the validation images: %w", err)
		}
		e.val = valSrc
	}
	return e, cache, nil
}

// deepModel normalises uint8 pixels in-graph (as config.json's normalization says) and calls the
// family's Build.
func deepModel(fam zoo.Spec, cfg *RunConfig) modelFn {
	return func(ctx *context.Context, x *Node) *Node {
		return fam.Build(ctx, normalizeGraph(x, cfg.Normalization), cfg.Model)
	}
}

// normalizeGraph maps uint8 pixels [batch, h, w, 3] to [0, 1] and then to the float32 input the family
// expects (models.Normalize).
func normalizeGraph(x *Node, norm models.Normalization) *Node {
	return models.Normalize(DivScalar(ConvertDType(x, dtypes.Float32), 255), norm)
}

// imageSource serves prepared images as uint8 [batch, size, size, 3], augmenting training batches.
type imageSource struct {
	size    int
	paths   []string // the files the pixels came from (for RecordedFile); may be nil
	pixels  [][]uint8
	labels  []int
	augment pipeline.AugmentOptions
	seed    int64
}

func newImageSource(cache pipeline.Cache, data []Example, size int, aug pipeline.AugmentOptions, seed int64) (*imageSource, error) {
	paths := make([]string, len(data))
	labels := make([]int, len(data))
	for i, e := range data {
		paths[i], labels[i] = e.Path, e.Label
	}
	px, err := cache.LoadAll(paths, size)
	if err != nil {
		return nil, err
	}
	return &imageSource{size: size, paths: paths, pixels: px, labels: labels, augment: aug, seed: seed}, nil
}

func (s *imageSource) Len() int        { return len(s.pixels) }
func (s *imageSource) Label(i int) int { return s.labels[i] }

func (s *imageSource) Batch(idx []int, epoch int, augment bool) (*tensors.Tensor, error) {
	per := s.size * s.size * 3
	buf := make([]uint8, len(idx)*per)
	augment = augment && s.augment.Enabled()
	if !augment {
		for k, i := range idx {
			copy(buf[k*per:(k+1)*per], s.pixels[i])
		}
	} else {
		var wg sync.WaitGroup
		workers := max(1, min(runtime.GOMAXPROCS(0), len(idx)))
		for w := range workers {
			wg.Go(func() {
				for k := w; k < len(idx); k += workers {
					i := idx[k]
					pipeline.Augment(buf[k*per:(k+1)*per], s.pixels[i], s.size, s.augment, pipeline.Rand(s.seed, epoch, i))
				}
			})
		}
		wg.Wait()
	}
	return tensors.FromFlatDataAndDimensions(buf, len(idx), s.size, s.size, 3), nil
}

// ConvGradientSupported reports whether backend b can compute a convolution's gradient (the stock pure-Go
// backend cannot); deep training of CNNs needs it. It builds and runs a tiny graph, recovering any panic.
func ConvGradientSupported(b backends.Backend) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("backend %s cannot compute convolution gradients: %v", b.Name(), r)
		}
	}()
	exec, err := NewExec(b, func(x, k *Node) []*Node {
		y := Convolve(x, k).Strides(1).PadSame().Done()
		return Gradient(ReduceAllSum(Square(y)), x, k)
	})
	if err != nil {
		return fmt.Errorf("backend %s: building a convolution gradient: %w", b.Name(), err)
	}
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 1, 4, 4, 2))
	k := tensors.FromShape(shapes.Make(dtypes.Float32, 3, 3, 2, 2))
	out, err := exec.Exec(x, k)
	if err != nil {
		return fmt.Errorf("backend %s cannot compute convolution gradients: %w", b.Name(), err)
	}
	for _, t := range out {
		t.FinalizeAll()
	}
	return nil
}

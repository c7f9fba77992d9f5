package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the dot import.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/models/nn"
)

// HeadBuilder configures a transfer-learning head: a classifier trained on cached frozen embeddings. Create
// it with Head, chain options, and call Fit.
//
//	res, err := train.Head(classes, trainSet, valSet).Hidden(256).Dropout(0.2).BalanceClasses().
//		EarlyStopping(5).Seed(1).Fit()
type HeadBuilder struct {
	classes    []string
	train, val []Embedded
	cfg        RunConfig
	progress   Progress
	quiet      bool
	outDir     string
	backend    backends.Backend
	backendNm  string
	matmul     string
}

// Head starts a head configuration for the given class names and splits (val may be empty). Defaults:
// linear, AdamW with LR 1e-3 and no weight decay, constant schedule, 50 epochs, batch 32, softmax, seed 0.
func Head(classes []string, train, val []Embedded) *HeadBuilder {
	opt := DefaultOptimizer()
	opt.WeightDecay = 0
	opt.Schedule = "constant"
	return &HeadBuilder{classes: slices.Clone(classes), train: train, val: val,
		cfg: RunConfig{Kind: "head", Optimizer: opt, Epochs: 50, BatchSize: 32, RestoreBest: true}}
}

// Hidden adds one hidden ReLU layer of n units (0 keeps the head linear).
func (h *HeadBuilder) Hidden(n int) *HeadBuilder { h.cfg.Hidden = n; return h }

// Dropout sets the dropout rate applied to the head's input (and hidden layer), training only.
func (h *HeadBuilder) Dropout(rate float64) *HeadBuilder { h.cfg.Dropout = rate; return h }

// L2 adds l2 * sum of squared weights to the loss.
func (h *HeadBuilder) L2(l2 float64) *HeadBuilder { h.cfg.L2 = l2; return h }

// WeightDecay sets the optimiser's weight decay (decoupled for AdamW, coupled for SGD).
func (h *HeadBuilder) WeightDecay(wd float64) *HeadBuilder {
	h.cfg.Optimizer.WeightDecay = wd
	return h
}

// BalanceClasses weights the loss by inverse class frequency (n / (classes * count)), for imbalanced data.
func (h *HeadBuilder) BalanceClasses() *HeadBuilder { h.cfg.BalanceClasses = true; return h }

// LR sets the (peak) learning rate.
func (h *HeadBuilder) LR(lr float64) *HeadBuilder { h.cfg.Optimizer.LR = lr; return h }

// Optimizer selects "adamw", "adam" or "sgd" (momentum 0.9 unless Momentum is set).
func (h *HeadBuilder) Optimizer(name string) *HeadBuilder { h.cfg.Optimizer.Name = name; return h }

// Momentum sets SGD's momentum.
func (h *HeadBuilder) Momentum(m float64) *HeadBuilder { h.cfg.Optimizer.Momentum = m; return h }

// Schedule selects the learning-rate schedule: "constant" (default for heads) or "cosine".
func (h *HeadBuilder) Schedule(name string) *HeadBuilder { h.cfg.Optimizer.Schedule = name; return h }

// WarmupEpochs sets a linear learning-rate warm-up (fractions of an epoch allowed).
func (h *HeadBuilder) WarmupEpochs(e float64) *HeadBuilder {
	h.cfg.Optimizer.WarmupEpochs = e
	return h
}

// LabelSmoothing mixes eps/classes into the one-hot targets.
func (h *HeadBuilder) LabelSmoothing(eps float64) *HeadBuilder { h.cfg.LabelSmoothing = eps; return h }

// Epochs sets the maximum number of epochs.
func (h *HeadBuilder) Epochs(n int) *HeadBuilder { h.cfg.Epochs = n; return h }

// BatchSize sets the fixed batch size (capped at the training-set size).
func (h *HeadBuilder) BatchSize(n int) *HeadBuilder { h.cfg.BatchSize = n; return h }

// EarlyStopping stops after patience epochs without a lower validation loss (training loss when there is
// no validation split) and restores the best epoch's weights (see RestoreBest).
func (h *HeadBuilder) EarlyStopping(patience int) *HeadBuilder { h.cfg.Patience = patience; return h }

// RestoreBest says whether early stopping puts back the best epoch's weights (default true).
func (h *HeadBuilder) RestoreBest(restore bool) *HeadBuilder { h.cfg.RestoreBest = restore; return h }

// MultiLabel uses independent sigmoids (one-vs-rest binary cross-entropy) instead of a softmax, for
// concepts that are not mutually exclusive.
func (h *HeadBuilder) MultiLabel() *HeadBuilder { h.cfg.MultiLabel = true; return h }

// Seed makes the run reproducible on a given backend (initialisation, order, dropout).
func (h *HeadBuilder) Seed(seed int64) *HeadBuilder { h.cfg.Seed = seed; return h }

// Progress sets the progress callback (default: a terminal line on stderr).
func (h *HeadBuilder) Progress(p Progress) *HeadBuilder { h.progress, h.quiet = p, false; return h }

// Quiet turns progress reporting off.
func (h *HeadBuilder) Quiet() *HeadBuilder { h.quiet = true; return h }

// OutputDir saves config.json, history.json and checkpoints there, and resumes an interrupted run found
// there. Without it nothing is written.
func (h *HeadBuilder) OutputDir(dir string) *HeadBuilder { h.outDir = dir; return h }

// Dataset records a description of the data (e.g. a dataset version) in config.json.
func (h *HeadBuilder) Dataset(desc string) *HeadBuilder { h.cfg.Dataset = desc; return h }

// Backend overrides the GoMLX backend (default backend.Default()).
func (h *HeadBuilder) Backend(b backends.Backend) *HeadBuilder {
	h.backend = b
	h.backendNm = b.Name()
	return h
}

// MatMul forces how the head's matrix products are computed: "product" (nn.MatrixProduct, whose
// gradient is two matrix products), "dot" (GoMLX's DotGeneral, whose gradient materialises a
// batch x in x out product), "conv" (a 1x1 convolution), or "" (default: "product"). Results agree to
// float32 rounding; the variables are the same.
func (h *HeadBuilder) MatMul(mode string) *HeadBuilder { h.matmul = mode; return h }

// Fit validates the input, trains, and returns the result.
func (h *HeadBuilder) Fit() (*Result, error) {
	if err := validateClasses(h.classes); err != nil {
		return nil, err
	}
	dim, err := validateEmbedded("train", h.train, h.classes, true, 0)
	if err != nil {
		return nil, err
	}
	if _, err := validateEmbedded("validation", h.val, h.classes, false, dim); err != nil {
		return nil, err
	}
	if h.cfg.Hidden < 0 || h.cfg.Dropout < 0 || h.cfg.Dropout >= 1 || h.cfg.L2 < 0 {
		return nil, fmt.Errorf("head options out of range (need hidden >= 0, 0 <= dropout < 1, l2 >= 0): hidden=%d dropout=%v l2=%v", h.cfg.Hidden, h.cfg.Dropout, h.cfg.L2)
	}
	b, name, err := resolveBackend(h.backend, h.backendNm)
	if err != nil {
		return nil, err
	}
	cfg := h.cfg
	cfg.Classes = h.classes
	cfg.EmbeddingDim = dim
	cfg.NumTrain, cfg.NumVal = len(h.train), len(h.val)
	cfg.Backend = name
	e := &engine{backend: b, backendName: name, model: headModel(&cfg, h.matmulMode(b)), numClasses: len(h.classes),
		multiLabel: cfg.MultiLabel, labelSmoothing: cfg.LabelSmoothing, l2: cfg.L2, balance: cfg.BalanceClasses,
		batchSize: cfg.BatchSize, epochs: cfg.Epochs, opt: cfg.Optimizer, seed: cfg.Seed, patience: cfg.Patience,
		restoreBest: cfg.RestoreBest && cfg.Patience > 0, progress: pickProgress(h.progress, h.quiet),
		outDir: h.outDir, config: &cfg, train: newVectorSource(h.train, dim)}
	if len(h.val) > 0 {
		e.val = newVectorSource(h.val, dim)
	}
	res, err := e.fit()
	if err != nil {
		return nil, fmt.Errorf("training head: %w", err)
	}
	return res, nil
}

// matmulMode returns the head's matrix-product mode (see MatMul), "conv" only where backend b
// differentiates convolutions.
func (h *HeadBuilder) matmulMode(b backends.Backend) string {
	switch h.matmul {
	case "dot":
		return "dot"
	case "conv":
		if ConvGradientSupported(b) == nil {
			return "conv"
		}
	}
	return "product"
}

// resolveBackend returns the given backend or backend.Default().
func resolveBackend(b backends.Backend, name string) (backends.Backend, string, error) {
	if b != nil {
		return b, name, nil
	}
	b, info, err := backend.Default()
	if err != nil {
		return nil, "", fmt.Errorf("getting the compute backend: %w", err)
	}
	return b, info.Name, nil
}

// headModel is the head: [dropout] -> [dense(hidden) -> relu -> dropout] -> dense(classes). mode picks how
// its matrix products are computed (see HeadBuilder.MatMul).
func headModel(cfg *RunConfig, mode string) modelFn {
	return func(ctx *context.Context, x *Node) *Node {
		x = layers.DropoutStatic(ctx, x, cfg.Dropout)
		if cfg.Hidden > 0 {
			x = dense(ctx.In("hidden"), x, cfg.Hidden, mode)
			x = activations.Relu(x)
			x = layers.DropoutStatic(ctx, x, cfg.Dropout)
		}
		return dense(ctx.In("logits"), x, len(cfg.Classes), mode)
	}
}

// dense is x [batch, in] . weights [in, out] + biases [out], computed as mode says (see HeadBuilder.MatMul).
func dense(ctx *context.Context, x *Node, out int, mode string) *Node {
	g := x.Graph()
	batch, in := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	w := ctx.VariableWithShape("weights", shapes.Make(x.DType(), in, out)).ValueGraph(g)
	b := ctx.WithInitializer(initializers.Zero).VariableWithShape("biases", shapes.Make(x.DType(), out)).ValueGraph(g)
	var y *Node
	switch mode {
	case "conv":
		y = Convolve(Reshape(x, batch, 1, 1, in), Reshape(w, 1, 1, in, out)).Strides(1).NoPadding().Done()
		y = Reshape(y, batch, out)
	case "dot":
		y = Dot(x, w)
	default:
		y = nn.MatrixProduct(x, w)
	}
	return Add(y, ExpandLeftToRank(b, 2))
}

// vectorSource serves embeddings as float32 [batch, dim].
type vectorSource struct {
	dim    int
	flat   []float32
	labels []int
}

func newVectorSource(data []Embedded, dim int) *vectorSource {
	s := &vectorSource{dim: dim, flat: make([]float32, 0, len(data)*dim), labels: make([]int, len(data))}
	for i, e := range data {
		s.flat = append(s.flat, e.Vector...)
		s.labels[i] = e.Label
	}
	return s
}

func (s *vectorSource) Len() int        { return len(s.labels) }
func (s *vectorSource) Label(i int) int { return s.labels[i] }
func (s *vectorSource) Batch(idx []int, _ int, _ bool) (*tensors.Tensor, error) {
	buf := make([]float32, len(idx)*s.dim)
	for k, i := range idx {
		copy(buf[k*s.dim:(k+1)*s.dim], s.flat[i*s.dim:(i+1)*s.dim])
	}
	return tensors.FromFlatDataAndDimensions(buf, len(idx), s.dim), nil
}

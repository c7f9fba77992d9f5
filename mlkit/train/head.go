package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
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
// it with Head, set the head's own options here and the shared ones with With, and call Fit.
//
//	res, err := train.Head(classes, trainSet, valSet).Hidden(256).Dropout(0.2).
//		With(train.HeadDefaults().BalanceClasses().EarlyStopping(5).Seed(1)).Fit()
type HeadBuilder struct {
	classes    []string
	train, val []Embedded
	cfg        RunConfig // the head's own options; Planned adds opts.Settings and the data's sizes
	opts       Options
	matmul     string
}

// Head starts a head configuration for the given class names and splits (val may be empty): linear,
// softmax, with the options HeadDefaults.
func Head(classes []string, train, val []Embedded) *HeadBuilder {
	return &HeadBuilder{classes: slices.Clone(classes), train: train, val: val, cfg: RunConfig{Kind: "head"},
		opts: HeadDefaults()}
}

// With sets the training options (optimiser, epochs, early stopping, seed, output folder...), replacing
// the earlier ones: start from HeadDefaults, or from Options to change some.
func (h *HeadBuilder) With(o Options) *HeadBuilder { h.opts = o; return h }

// Options returns the training options set so far (HeadDefaults unless With was called).
func (h *HeadBuilder) Options() Options { return h.opts }

// Hidden adds one hidden ReLU layer of n units (0 keeps the head linear).
func (h *HeadBuilder) Hidden(n int) *HeadBuilder { h.cfg.Hidden = n; return h }

// Dropout sets the dropout rate applied to the head's input (and hidden layer), training only.
func (h *HeadBuilder) Dropout(rate float64) *HeadBuilder { h.cfg.Dropout = rate; return h }

// L2 adds l2 * sum of squared weights to the loss.
func (h *HeadBuilder) L2(l2 float64) *HeadBuilder { h.cfg.L2 = l2; return h }

// MultiLabel uses independent sigmoids (one-vs-rest binary cross-entropy) instead of a softmax, for
// concepts that are not mutually exclusive.
func (h *HeadBuilder) MultiLabel() *HeadBuilder { h.cfg.MultiLabel = true; return h }

// MatMul forces how the head's matrix products are computed: "product" (nn.MatrixProduct, whose
// gradient is two matrix products), "dot" (GoMLX's DotGeneral, whose gradient materialises a
// batch x in x out product), "conv" (a 1x1 convolution), or "" (default: "product"). Results agree to
// float32 rounding; the variables are the same.
func (h *HeadBuilder) MatMul(mode string) *HeadBuilder { h.matmul = mode; return h }

// Fit validates the input, trains, and returns the result.
func (h *HeadBuilder) Fit() (*Result, error) {
	e, err := h.newEngine()
	if err != nil {
		return nil, err
	}
	res, err := e.fit()
	if err != nil {
		return nil, fmt.Errorf("training head: %w", err)
	}
	return res, nil
}

// newEngine validates the input and returns the engine of the run.
func (h *HeadBuilder) newEngine() (*engine, error) {
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
	if !(h.cfg.Hidden >= 0 && h.cfg.Dropout >= 0 && h.cfg.Dropout < 1 && h.cfg.L2 >= 0) {
		return nil, fmt.Errorf("head options out of range (need hidden >= 0, 0 <= dropout < 1, l2 >= 0): hidden=%d dropout=%v l2=%v", h.cfg.Hidden, h.cfg.Dropout, h.cfg.L2)
	}
	b, name, err := h.opts.resolveBackend()
	if err != nil {
		return nil, err
	}
	cfg := h.Planned()
	cfg.Backend = name
	e := newEngine(b, name, headModel(&cfg, h.matmulMode(b)), &cfg, h.opts, newVectorSource(h.train, dim))
	if len(h.val) > 0 {
		e.val = newVectorSource(h.val, dim)
	}
	return e, nil
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

// resolveBackend returns the backend set with Backend, or backend.Default(), and its name.
func (o Options) resolveBackend() (backends.Backend, string, error) {
	if o.backend != nil {
		return o.backend, o.backend.Name(), nil
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

// Package efficientnet builds torchvision's EfficientNet-B0..B7 in GoMLX, with variable names that map
// one-to-one to torchvision's state-dict keys.
//
// Layout (torchvision.models.efficientnet, v1): a 3x3/2 stem conv + BN + SiLU; seven stages of MBConv
// blocks (1x1 expansion conv + BN + SiLU when the expand ratio is not 1, depthwise kxk conv + BN + SiLU,
// squeeze-and-excitation with SiLU and sigmoid gates, 1x1 projection conv + BN, and a residual
// connection with stochastic depth when the stride is 1 and the channel count does not change); a 1x1
// head conv to 4x the last stage's channels + BN + SiLU; global average pooling; dropout; a linear
// classifier. Compound scaling: channels are round(c*width) to a multiple of 8 (_make_divisible),
// repeats are ceil(n*depth), and the stochastic-depth rate grows linearly with the block index.
//
// Batch norm follows torchvision exactly: B0-B4 use PyTorch's defaults (eps 1e-5, momentum 0.1), B5-B7
// use eps 1e-3 and momentum 0.01 (torchvision's efficientnet_b5/b6/b7 norm_layer). B0's eps is
// therefore 1e-5, not the 1e-3 of the TensorFlow original.
//
// # Variable names
//
// Scopes mirror torchvision's module paths; scope plus name with "/" replaced by "." is the state-dict
// key (TorchName):
//
//	/features/0/0/weight                  features.0.0.weight (stem conv)  [3,3,3,32] <- [32,3,3,3]
//	/features/0/1/{weight,bias,running_mean,running_var}   features.0.1.* (stem BN)
//	/features/S/J/block/I/0/weight        conv I of block J of stage S (S = 1..7)
//	/features/S/J/block/I/1/...           its BN
//	/features/S/J/block/I/fc1/weight      squeeze-excite (I = 2, or 1 when expand ratio is 1) [1,1,C,s]
//	/features/8/0/weight, /features/8/1/* head conv and BN
//	/classifier/1/weight, /classifier/1/bias   classifier.1.* (weight [in,out] <- torch [out,in])
//
// In a block, I counts: expansion conv (absent for expand ratio 1), depthwise conv, SE, projection.
// Convolution kernels are [kh, kw, in, out] here and [out, in, kh, kw] in PyTorch; the depthwise
// kernels are [k, k, 1, C] here and [C, 1, k, k] in PyTorch.
package efficientnet

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/nn"
)

// Stage is one row of EfficientNet-B0's table (torchvision's MBConvConfig before scaling).
type Stage struct {
	ExpandRatio int // channel expansion of the first 1x1 conv (1: no expansion conv)
	Kernel      int // depthwise kernel size
	Stride      int // stride of the stage's first block
	In, Out     int // input and output channels at width 1
	Repeats     int // blocks at depth 1
}

// B0Stages is EfficientNet-B0's stage table (paper Table 1, torchvision's _efficientnet_conf).
var B0Stages = []Stage{
	{1, 3, 1, 32, 16, 1},
	{6, 3, 2, 16, 24, 2},
	{6, 5, 2, 24, 40, 2},
	{6, 3, 2, 40, 80, 3},
	{6, 5, 1, 80, 112, 3},
	{6, 5, 2, 112, 192, 4},
	{6, 3, 1, 192, 320, 1},
}

// Variant is one member of the family: its compound-scaling coefficients, the resolution torchvision's
// weights were evaluated at, the classifier dropout, and the BN hyperparameters.
type Variant struct {
	Name                  string
	Width, Depth          float64
	Resolution            int
	Dropout               float64
	BNEpsilon, BNMomentum float64
}

// Variants lists B0..B7 as torchvision defines them (resolution = torchvision's crop size).
var Variants = [8]Variant{
	{"efficientnet_b0", 1.0, 1.0, 224, 0.2, 1e-5, 0.1},
	{"efficientnet_b1", 1.0, 1.1, 240, 0.2, 1e-5, 0.1},
	{"efficientnet_b2", 1.1, 1.2, 288, 0.3, 1e-5, 0.1},
	{"efficientnet_b3", 1.2, 1.4, 300, 0.3, 1e-5, 0.1},
	{"efficientnet_b4", 1.4, 1.8, 380, 0.4, 1e-5, 0.1},
	{"efficientnet_b5", 1.6, 2.2, 456, 0.4, 1e-3, 0.01},
	{"efficientnet_b6", 1.8, 2.6, 528, 0.5, 1e-3, 0.01},
	{"efficientnet_b7", 2.0, 3.1, 600, 0.5, 1e-3, 0.01},
}

// DefaultDropPath is torchvision's stochastic_depth_prob for B0..B7: the rate of the last block; block
// i of n uses DefaultDropPath*i/n.
const DefaultDropPath = 0.2

// Context hyperparameters that override the BN settings Build derives from cfg (by default those of
// the variant whose width and depth match cfg, else B0's).
const (
	ParamBNEpsilon  = "efficientnet_bn_epsilon"
	ParamBNMomentum = "efficientnet_bn_momentum" // PyTorch convention: weight of the new batch statistic
)

// ParamZeroInitResidual (models.ParamZeroInitResidual) zero-initialises the projection BN scale of every
// MBConv block with a residual connection, so each starts as the identity (timm's zero_init_last for
// EfficientNet blocks; torchvision does not). It changes only the initial weights: pretrained weights
// load the same either way.
const ParamZeroInitResidual = models.ParamZeroInitResidual

// Config returns the models.Config of EfficientNet-B<variant> (0..7) with 1000 classes: its width and
// depth multipliers, resolution, dropout and torchvision's stochastic-depth rate. Change the head with
// .Classes(n). It panics for variants outside 0..7 (a programming error).
func Config(variant int) models.Config {
	if variant < 0 || variant >= len(Variants) {
		panic(fmt.Errorf("efficientnet: no variant B%d (have B0..B7)", variant))
	}
	v := Variants[variant]
	return models.Config{NumClasses: 1000, InputSize: v.Resolution, Width: v.Width, Depth: v.Depth,
		Dropout: v.Dropout, DropPath: DefaultDropPath}
}

// MakeDivisible is torchvision's _make_divisible: v rounded to the nearest multiple of divisor (at least
// divisor), bumped up by divisor if rounding lost more than 10%.
func MakeDivisible(v float64, divisor int) int {
	n := max(divisor, int(v+float64(divisor)/2)/divisor*divisor)
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// ScaledStages returns the stage table for the width and depth multipliers: channels through
// MakeDivisible(c*width, 8) and repeats ceil(n*depth).
func ScaledStages(width, depth float64) []Stage {
	out := make([]Stage, len(B0Stages))
	for i, s := range B0Stages {
		s.In = MakeDivisible(float64(s.In)*width, 8)
		s.Out = MakeDivisible(float64(s.Out)*width, 8)
		s.Repeats = int(math.Ceil(float64(s.Repeats) * depth))
		out[i] = s
	}
	return out
}

// bnParams returns the BN epsilon and momentum for cfg: context overrides, else the matching variant's.
func bnParams(ctx *context.Context, width, depth float64) (eps, momentum float64) {
	eps, momentum = Variants[0].BNEpsilon, Variants[0].BNMomentum
	for _, v := range Variants {
		if v.Width == width && v.Depth == depth {
			eps, momentum = v.BNEpsilon, v.BNMomentum
		}
	}
	eps = context.GetParamOr(ctx, ParamBNEpsilon, eps)
	momentum = context.GetParamOr(ctx, ParamBNMomentum, momentum)
	return eps, momentum
}

// Preprocess maps RGB images with values in [0, 1], [batch, h, w, 3], to the normalised input the
// torchvision weights expect: models.Normalize with models.NormImageNet.
func Preprocess(images *Node) *Node { return models.Normalize(images, models.NormImageNet) }

// ForVariant returns the constructor of EfficientNet-B<variant> (0..7): Build with that variant's width
// and depth multipliers, whatever cfg says (cfg's classes, size, dropout and drop-path still apply). It
// returns an error for variants outside 0..7.
func ForVariant(variant int) (models.BuildFunc, error) {
	if variant < 0 || variant >= len(Variants) {
		return nil, fmt.Errorf("efficientnet: no variant B%d (have B0..B7)", variant)
	}
	v := Variants[variant]
	return func(ctx *context.Context, images *Node, cfg models.Config) *Node {
		cfg.Width, cfg.Depth = v.Width, v.Depth
		return Build(ctx, images, cfg)
	}, nil
}

// TorchName returns the torchvision state-dict key of a variable with the given scope (as returned by
// context.Variable.Scope, e.g. "/features/1/0/block/0/1") and name (e.g. "running_var").
func TorchName(scope, name string) string { return nn.TorchName(scope, name) }

type builder struct {
	eps, momentum float64
	zeroInit      bool // ParamZeroInitResidual
}

// convBNAct is torchvision's Conv2dNormActivation: conv (no bias) in scope "0", BN in scope "1",
// then SiLU when act.
func (b builder) convBNAct(ctx *context.Context, x *Node, filters, kernel, stride int, act bool) *Node {
	return b.convBN(ctx, x, filters, kernel, stride, act, false)
}

// convBN is convBNAct with the BN scale zero-initialised when zeroScale.
func (b builder) convBN(ctx *context.Context, x *Node, filters, kernel, stride int, act, zeroScale bool) *Node {
	y := nn.Conv2D(ctx.In("0"), x).Filters(filters).KernelSize(kernel).Stride(stride).Done()
	y = nn.BatchNorm(ctx.In("1"), y).Epsilon(b.eps).Momentum(b.momentum).ZeroInitScale(zeroScale).Done()
	if act {
		y = activations.Swish(y)
	}
	return y
}

// depthwiseBNAct is the depthwise Conv2dNormActivation: kernel [k, k, 1, C] in scope "0" (PyTorch's
// [C, 1, k, k]), padding (k-1)/2, BN in "1", SiLU.
func (b builder) depthwiseBNAct(ctx *context.Context, x *Node, kernel, stride int) *Node {
	g := x.Graph()
	c := x.Shape().Dimensions[3]
	// Kaiming normal with PyTorch's fan_out for a [C, 1, k, k] weight: C*k*k (PyTorch ignores groups).
	std := math.Sqrt(2.0 / float64(kernel*kernel*c))
	wctx := ctx.In("0")
	w := wctx.WithInitializer(initializers.RandomNormalFn(wctx, std)).
		VariableWithShape(nn.ParamWeight, shapes.Make(x.DType(), kernel, kernel, 1, c))
	p := (kernel - 1) / 2
	y := nn.Depthwise(x, Reshape(w.ValueGraph(g), kernel, kernel, c, 1)).Strides(stride).
		Padding([2][2]int{{p, p}, {p, p}}).NeedsGradient(ctx.IsTraining(g)).Done()
	y = nn.BatchNorm(ctx.In("1"), y).Epsilon(b.eps).Momentum(b.momentum).Done()
	return activations.Swish(y)
}

// mbConv is torchvision's MBConv block in scope ctx (= features/S/J).
func (b builder) mbConv(ctx *context.Context, x *Node, s Stage, in, stride int, dropPath float64) *Node {
	block := ctx.In("block")
	expanded := in * s.ExpandRatio
	y := x
	i := 0
	next := func() *context.Context { c := block.In(fmt.Sprintf("%d", i)); i++; return c }
	if expanded != in {
		y = b.convBNAct(next(), y, expanded, 1, 1, true)
	}
	y = b.depthwiseBNAct(next(), y, s.Kernel, stride)
	y = nn.SqueezeExcite(next(), y, max(1, in/4))
	residual := stride == 1 && in == s.Out
	y = b.convBN(next(), y, s.Out, 1, 1, false, residual && b.zeroInit)
	if residual {
		y = Add(nn.DropPath(ctx, y, dropPath), x)
	}
	return y
}

// Build builds EfficientNet on channels-last images [batch, h, w, 3] normalised with Preprocess, scaled
// by cfg.Width and cfg.Depth (Config(n) gives B<n>; models.New() gives B0 without dropout), and returns
// logits [batch, cfg.NumClasses], or the pooled features when cfg.NumClasses is 0. cfg.Dropout is the
// classifier dropout and cfg.DropPath the last block's stochastic-depth rate, both in training only.
func Build(ctx *context.Context, images *Node, cfg models.Config) *Node {
	if images.Rank() != 4 || images.Shape().Dimensions[3] != 3 {
		panic(fmt.Errorf("efficientnet: want channels-last RGB images [batch, h, w, 3], got %s", images.Shape()))
	}
	if cfg.DropPath < 0 || cfg.DropPath >= 1 || cfg.Dropout < 0 || cfg.Dropout >= 1 {
		panic(fmt.Errorf("efficientnet: dropout %g and drop-path %g must be in [0, 1)", cfg.Dropout, cfg.DropPath))
	}
	width, depth := cfg.Width, cfg.Depth
	if width <= 0 {
		width = 1
	}
	if depth <= 0 {
		depth = 1
	}
	eps, momentum := bnParams(ctx, width, depth)
	b := builder{eps: eps, momentum: momentum, zeroInit: context.GetParamOr(ctx, ParamZeroInitResidual, false)}
	stages := ScaledStages(width, depth)
	g := images.Graph()
	features := ctx.In("features")

	x := b.convBNAct(features.In("0"), images, stages[0].In, 3, 2, true)
	total := 0
	for _, s := range stages {
		total += s.Repeats
	}
	blockID := 0
	for si, s := range stages {
		sctx := features.In(fmt.Sprintf("%d", si+1))
		in, stride := s.In, s.Stride
		for j := range s.Repeats {
			if j > 0 {
				in, stride = s.Out, 1
			}
			p := cfg.DropPath * float64(blockID) / float64(total)
			x = b.mbConv(sctx.In(fmt.Sprintf("%d", j)), x, s, in, stride, p)
			blockID++
		}
	}
	last := stages[len(stages)-1].Out
	x = b.convBNAct(features.In(fmt.Sprintf("%d", len(stages)+1)), x, 4*last, 1, 1, true)
	x = ReduceMean(x, 1, 2)
	if cfg.NumClasses <= 0 {
		return x
	}
	if cfg.Dropout > 0 && ctx.IsTraining(g) {
		keep := ctx.RandomBernoulli(Scalar(g, x.DType(), 1-cfg.Dropout), x.Shape())
		x = Mul(x, MulScalar(keep, 1/(1-cfg.Dropout)))
	}
	// torchvision initialises this layer uniform in ±1/sqrt(classes), a range sized for ImageNet's 1000
	// classes: with 5 it is ±0.45 and training from scratch starts at a loss of ~9 instead of ln 5 = 1.6.
	// PyTorch's default for a Linear layer, ±1/sqrt(inputs), does not depend on the number of classes.
	r := 1 / math.Sqrt(float64(x.Shape().Dimensions[x.Rank()-1]))
	return nn.Linear(ctx.In("classifier").In("1"), x, cfg.NumClasses).WeightRange(r).BiasRange(0).Done()
}

// Package mobilenetv2 is the Keras MobileNetV2 architecture (Sandler et al. 2018, keras.applications) built
// in GoMLX, for any width multiplier alpha, with a loader for Keras weights exported in TensorFlow.js
// layers format (the base model Teachable Machine uses: alpha 0.35, 224 px, ImageNet).
//
// Variables are named like the Keras layers, in the context's current scope: "Conv1/kernel",
// "block_3_depthwise/depthwise_kernel", "block_3_project_BN/{scale,offset,mean,variance}" (GoMLX
// batch-norm names for Keras gamma, beta, moving_mean, moving_variance), "predictions/{weights,biases}"
// (GoMLX dense layer) for the optional classification head. Input: float32 [batch, height, width, 3] RGB scaled to [-1, 1] (see
// Preprocess, or PreprocessImage for one Go image). Output: the 1280-d global average pool of "out_relu" (NumClasses 0), or logits.
//
// Backends: inference runs on XLA and on the pure-Go backend (depthwise convolutions use nn.Depthwise,
// which avoids grouped convolution where it would crash). Training the backbone needs gradients of
// convolution and slicing, which GoMLX v0.26.0's pure-Go backend lacks (Reverse, Pad): train on XLA, or
// keep the backbone frozen and train a head on its features.
package mobilenetv2

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/batchnorm"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/nn"
)

// FeatureDim is the size of the pooled features for alpha <= 1 (Keras keeps Conv_1 at 1280 channels).
const FeatureDim = 1280

// BatchNormEpsilon and BatchNormMomentum are the Keras MobileNetV2 batch-normalisation settings.
const (
	BatchNormEpsilon  = 1e-3
	BatchNormMomentum = 0.999
)

// SupportedWidths are the alphas keras.applications publishes ImageNet weights for. Build accepts any
// positive alpha; these are the ones LoadTFJS tries when it detects the width of a weights file.
var SupportedWidths = []float64{0.35, 0.5, 0.75, 1.0, 1.3, 1.4}

// ParamFrozenBN is the context hyperparameter (bool, default false) that keeps every batch normalisation
// in inference mode while training: it normalises with the moving statistics (which stay as loaded and
// are not trained), and only its scale and offset (gamma, beta) learn. This is Keras' advice for
// fine-tuning a pretrained MobileNetV2 on little data (base_model(x, training=False) after unfreezing).
// Set it with ctx.SetParam(mobilenetv2.ParamFrozenBN, true).
const ParamFrozenBN = "mobilenetv2_frozen_bn"

// MakeDivisible is Keras' _make_divisible: v rounded to the nearest multiple of divisor, at least divisor,
// and never more than 10% below v.
func MakeDivisible(v float64, divisor int) int {
	d := float64(divisor)
	newV := max(divisor, int(v+d/2)/divisor*divisor)
	if float64(newV) < 0.9*v {
		newV += divisor
	}
	return newV
}

// Block is one inverted-residual block of the architecture.
type Block struct {
	// ID is Keras' block_id: 0 is "expanded_conv", others are "block_<ID>".
	ID int
	// Expansion multiplies the input channels in the 1x1 expand convolution (1 = no expand layer).
	Expansion int
	// Stride of the depthwise convolution (1 or 2).
	Stride int
	// Filters is the nominal output channel count before alpha (16, 24, 32, 64, 96, 160, 320).
	Filters int
}

// Prefix is the Keras layer-name prefix of the block ("expanded_conv_" or "block_<ID>_").
func (b Block) Prefix() string {
	if b.ID == 0 {
		return "expanded_conv_"
	}
	return fmt.Sprintf("block_%d_", b.ID)
}

// Blocks lists the 17 inverted-residual blocks of MobileNetV2 in order.
var Blocks = func() []Block {
	spec := []struct{ filters, stride, n, expansion int }{
		{16, 1, 1, 1}, {24, 2, 2, 6}, {32, 2, 3, 6}, {64, 2, 4, 6}, {96, 1, 3, 6}, {160, 2, 3, 6}, {320, 1, 1, 6},
	}
	var bs []Block
	for _, s := range spec {
		for i := range s.n {
			stride := 1
			if i == 0 {
				stride = s.stride
			}
			bs = append(bs, Block{ID: len(bs), Expansion: s.expansion, Stride: stride, Filters: s.filters})
		}
	}
	return bs
}()

// FirstFilters returns Conv1's channel count for alpha.
func FirstFilters(alpha float64) int { return MakeDivisible(32*alpha, 8) }

// LastFilters returns Conv_1's channel count (the feature size) for alpha: 1280, more when alpha > 1.
func LastFilters(alpha float64) int {
	if alpha > 1 {
		return MakeDivisible(1280*alpha, 8)
	}
	return FeatureDim
}

// BlockFilters returns the output channels of a block for alpha (Keras truncates filters*alpha first).
func BlockFilters(b Block, alpha float64) int {
	return MakeDivisible(float64(int(float64(b.Filters)*alpha)), 8)
}

// WeightShapes returns the Keras weight names (as in a TF.js/Keras export, e.g. "Conv1/kernel",
// "bn_Conv1/gamma") and shapes of the backbone for alpha, without a classification head.
func WeightShapes(alpha float64) map[string][]int {
	w := map[string][]int{}
	bn := func(name string, c int) {
		for _, p := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
			w[name+"/"+p] = []int{c}
		}
	}
	in := FirstFilters(alpha)
	w["Conv1/kernel"] = []int{3, 3, 3, in}
	bn("bn_Conv1", in)
	for _, b := range Blocks {
		p := b.Prefix()
		out := BlockFilters(b, alpha)
		mid := in
		if b.ID != 0 {
			mid = in * b.Expansion
			w[p+"expand/kernel"] = []int{1, 1, in, mid}
			bn(p+"expand_BN", mid)
		}
		w[p+"depthwise/depthwise_kernel"] = []int{3, 3, mid, 1}
		bn(p+"depthwise_BN", mid)
		w[p+"project/kernel"] = []int{1, 1, mid, out}
		bn(p+"project_BN", out)
		in = out
	}
	last := LastFilters(alpha)
	w["Conv_1/kernel"] = []int{1, 1, in, last}
	bn("Conv_1_bn", last)
	return w
}

// correctPad is Keras' correct_pad for a 3x3 stride-2 convolution: ((0,1),(0,1)) on even sizes, ((1,1),(1,1))
// on odd ones.
func correctPad(x *Node) [2][2]int {
	h, w := x.Shape().Dimensions[1], x.Shape().Dimensions[2]
	return [2][2]int{{1 - (1 - h%2), 1}, {1 - (1 - w%2), 1}}
}

// convBN is a bias-free convolution followed by batch normalisation. Training uses GoMLX's batchnorm layer
// (batch statistics, moving averages). Inference folds the normalisation into the kernel: kernel*s, then
// +t, with s = gamma/sqrt(var+eps) and t = beta - mean*s per output channel, which saves three full
// passes over the activations. Both read the same variables.
func convBN(ctx *context.Context, x *Node, convName, kernelName string, kernelShape shapes.Shape, bnName string,
	conv func(x, kernel *Node) *Node) *Node {
	g := x.Graph()
	kernel := ctx.In(convName).VariableWithShape(kernelName, kernelShape).ValueGraph(g)
	if ctx.IsTraining(g) && !context.GetParamOr(ctx, ParamFrozenBN, false) {
		return batchnorm.New(ctx.In(bnName), conv(x, kernel), -1).CurrentScope().
			Epsilon(BatchNormEpsilon).Momentum(BatchNormMomentum).
			UseBackendInference(false). // the pure-Go backend has no BatchNormForTraining; the direct graph is differentiable.
			Done()
	}
	dims := kernelShape.Dimensions
	depthwise := kernelName == "depthwise_kernel" // [k, k, C, 1]: output channel c uses kernel[:, :, c, 0].
	c := dims[3]
	if depthwise {
		c = dims[2] * dims[3]
	}
	bctx := ctx.In(bnName)
	vs := shapes.Make(x.DType(), c)
	scale := bctx.WithInitializer(initializers.One).VariableWithShape("scale", vs).ValueGraph(g)
	offset := bctx.WithInitializer(initializers.Zero).VariableWithShape("offset", vs).ValueGraph(g)
	// The moving statistics are never trained (also when ParamFrozenBN trains through this branch).
	mean := bctx.WithInitializer(initializers.Zero).VariableWithShape("mean", vs).SetTrainable(false).ValueGraph(g)
	variance := bctx.WithInitializer(initializers.One).VariableWithShape("variance", vs).SetTrainable(false).ValueGraph(g)
	bctx.WithInitializer(initializers.Zero).VariableWithShape("avg_weight", vs).SetTrainable(false)
	s := Mul(scale, Rsqrt(AddScalar(StopGradient(variance), BatchNormEpsilon)))
	t := Sub(offset, Mul(mean, s))
	var folded *Node
	if depthwise {
		folded = Mul(kernel, Reshape(s, 1, 1, c, 1))
	} else {
		folded = Mul(kernel, Reshape(s, 1, 1, 1, c))
	}
	return Add(conv(x, folded), Reshape(t, 1, 1, 1, c))
}

func conv1x1BN(ctx *context.Context, x *Node, name, bnName string, filters int) *Node {
	return convBN(ctx, x, name, "kernel", shapes.Make(x.DType(), 1, 1, x.Shape().Dimensions[3], filters), bnName, nn.Pointwise)
}

// Backbone builds MobileNetV2 up to "out_relu": [batch, h/32, w/32, LastFilters(alpha)].
// Variables are created in (or reused from) ctx's current scope, unchecked, so LoadTFJS may run before or
// after the graph is built.
func Backbone(ctx *context.Context, images *Node, alpha float64) *Node {
	if images.Rank() != 4 || images.Shape().Dimensions[3] != 3 {
		panic(fmt.Errorf("mobilenetv2: images must be [batch, height, width, 3], got %s", images.Shape()))
	}
	if alpha <= 0 {
		panic(fmt.Errorf("mobilenetv2: width multiplier (alpha) must be > 0, got %g", alpha))
	}
	ctx = ctx.Checked(false)
	x := images

	// Stem: ZeroPadding2D(correct_pad) + Conv1 3x3 stride 2 "valid".
	pad := correctPad(x)
	x = convBN(ctx, x, "Conv1", "kernel", shapes.Make(x.DType(), 3, 3, 3, FirstFilters(alpha)), "bn_Conv1",
		func(x, k *Node) *Node { return nn.Im2ColConv2D(x, k, 2, pad) })
	x = nn.Relu6(x)

	for _, b := range Blocks {
		x = invertedResidual(ctx, x, b, alpha)
	}

	x = nn.Relu6(conv1x1BN(ctx, x, "Conv_1", "Conv_1_bn", LastFilters(alpha))) // "out_relu"
	return x
}

func invertedResidual(ctx *context.Context, inputs *Node, b Block, alpha float64) *Node {
	p := b.Prefix()
	in := inputs.Shape().Dimensions[3]
	out := BlockFilters(b, alpha)
	x := inputs
	if b.ID != 0 {
		x = nn.Relu6(conv1x1BN(ctx, x, p+"expand", p+"expand_BN", in*b.Expansion))
	}
	c := x.Shape().Dimensions[3]
	pad := correctPad(x) // Keras: ZeroPadding2D(correct_pad) then "valid" for stride 2; "same" for stride 1.
	if b.Stride == 1 {
		pad = [2][2]int{nn.SamePadding(x.Shape().Dimensions[1], 3, 1), nn.SamePadding(x.Shape().Dimensions[2], 3, 1)}
	}
	training := ctx.IsTraining(x.Graph())
	x = convBN(ctx, x, p+"depthwise", "depthwise_kernel", shapes.Make(x.DType(), 3, 3, c, 1), p+"depthwise_BN",
		func(x, k *Node) *Node {
			return nn.Depthwise(x, k).Strides(b.Stride).Padding(pad).NeedsGradient(training).Done()
		})
	x = nn.Relu6(x)
	x = conv1x1BN(ctx, x, p+"project", p+"project_BN", out)
	if in == out && b.Stride == 1 {
		x = Add(inputs, x)
	}
	return x
}

// Build is the model family's constructor (see package models): images [batch, h, w, 3] scaled to
// [-1, 1]; cfg.Width is alpha (0 means 1.0). It returns the global-average-pooled "out_relu" features
// [batch, LastFilters(alpha)] when cfg.NumClasses is 0, else logits [batch, NumClasses] from a dense
// "predictions" layer (after dropout cfg.Dropout when training), like keras.applications with
// include_top (minus the softmax).
func Build(ctx *context.Context, images *Node, cfg models.Config) *Node {
	alpha := cfg.Width
	if alpha == 0 {
		alpha = 1
	}
	features := ReduceMean(Backbone(ctx, images, alpha), 1, 2)
	if cfg.NumClasses <= 0 {
		return features
	}
	hctx := ctx.Checked(false)
	if cfg.Dropout > 0 {
		features = layers.DropoutStatic(hctx, features, cfg.Dropout)
	}
	return layers.Dense(hctx.In("predictions"), features, true, cfg.NumClasses)
}

// ForWidth returns the constructor of MobileNetV2 with width multiplier alpha: Build with cfg.Width
// replaced by alpha. It returns an error unless alpha > 0.
func ForWidth(alpha float64) (models.BuildFunc, error) {
	if !(alpha > 0) {
		return nil, fmt.Errorf("mobilenetv2: width multiplier (alpha) must be > 0, got %g", alpha)
	}
	return func(ctx *context.Context, images *Node, cfg models.Config) *Node {
		cfg.Width = alpha
		return Build(ctx, images, cfg)
	}, nil
}

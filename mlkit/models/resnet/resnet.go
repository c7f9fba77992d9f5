// Package resnet builds torchvision's ResNet v1.5 family (ResNet18/34/50/101/152) in GoMLX, with
// variable names that map one-to-one to torchvision's state-dict keys.
//
// Layout (torchvision.models.resnet): conv 7x7/2 (pad 3) + BN + ReLU, max-pool 3x3/2 (pad 1), four
// stages of residual blocks with widths 64, 128, 256, 512 (x4 expansion for bottleneck blocks), the
// stride 2 of stages 2-4 in the bottleneck's 3x3 convolution (v1.5), a 1x1 convolution + BN on the
// shortcut where the shape changes, global average pooling and a fully connected head. BN uses
// eps 1e-5 and momentum 0.1 (PyTorch's defaults).
//
// # Variable names
//
// Variables live in scopes that mirror torchvision's module paths, so a variable's scope plus name,
// with "/" replaced by ".", is its state-dict key (TorchName does it):
//
//	/conv1/weight                 conv1.weight               [7,7,3,64]   <- torch [64,3,7,7]
//	/bn1/{weight,bias,running_mean,running_var}  bn1.*
//	/layer1/0/conv1/weight        layer1.0.conv1.weight      (conv2, conv3, bn1..bn3 alike)
//	/layer1/0/downsample/0/weight layer1.0.downsample.0.weight
//	/layer1/0/downsample/1/...    layer1.0.downsample.1.*    (the shortcut's BN)
//	/fc/weight, /fc/bias          fc.weight [in,out] <- torch [out,in], fc.bias
//
// Convolution kernels are [kh, kw, in, out] here and [out, in, kh, kw] in PyTorch; the fc weight is
// transposed. BN's num_batches_tracked has no counterpart (momentum is fixed).
package resnet

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/nn"
)

// ParamZeroInitResidual (models.ParamZeroInitResidual) zero-initialises the last BN scale of every
// residual branch, like torchvision's zero_init_residual=True, so each block starts as the identity. Set
// it with ctx.SetParam(resnet.ParamZeroInitResidual, true).
const ParamZeroInitResidual = models.ParamZeroInitResidual

// BN hyperparameters, PyTorch's defaults as torchvision's ResNet uses them.
const (
	BNEpsilon  = 1e-5
	BNMomentum = 0.1
)

// Arch describes one ResNet depth: the block kind and the number of blocks per stage.
type Arch struct {
	// Depth is the nominal depth (18, 34, 50, 101 or 152).
	Depth int
	// Bottleneck selects 1x1-3x3-1x1 bottleneck blocks (x4 expansion); false means two 3x3 convs.
	Bottleneck bool
	// Blocks is the number of blocks in each of the four stages.
	Blocks [4]int
}

// Archs lists torchvision's ResNet depths.
var Archs = map[int]Arch{
	18:  {18, false, [4]int{2, 2, 2, 2}},
	34:  {34, false, [4]int{3, 4, 6, 3}},
	50:  {50, true, [4]int{3, 4, 6, 3}},
	101: {101, true, [4]int{3, 4, 23, 3}},
	152: {152, true, [4]int{3, 8, 36, 3}},
}

// ForDepth returns the constructor of ResNet18, 34, 50, 101 or 152 on channels-last images
// [batch, h, w, 3] normalised with Preprocess. The network returns logits [batch, cfg.NumClasses], or the
// pooled features (512-d for 18/34, 2048-d for the bottleneck depths) when cfg.NumClasses is 0. cfg.Width
// scales the stage widths (1 = reference); cfg.Dropout adds dropout before the head in training;
// cfg.Depth and cfg.DropPath are ignored (the depth is the argument). It returns an error for other
// depths.
func ForDepth(depth int) (models.BuildFunc, error) {
	arch, ok := Archs[depth]
	if !ok {
		return nil, fmt.Errorf("resnet: no ResNet of depth %d (have 18, 34, 50, 101, 152)", depth)
	}
	return func(ctx *context.Context, images *Node, cfg models.Config) *Node {
		return build(ctx, images, cfg, arch)
	}, nil
}

// Preprocess maps RGB images with values in [0, 1], [batch, h, w, 3], to the normalised input the
// torchvision weights expect: models.Normalize with models.NormImageNet.
func Preprocess(images *Node) *Node { return models.Normalize(images, models.NormImageNet) }

// TorchName returns the torchvision state-dict key of a variable with the given scope (as returned
// by context.Variable.Scope, e.g. "/layer1/0/bn1") and name (e.g. "running_mean").
func TorchName(scope, name string) string { return nn.TorchName(scope, name) }

func bn(ctx *context.Context, x *Node, zeroInit bool) *Node {
	return nn.BatchNorm(ctx, x).Epsilon(BNEpsilon).Momentum(BNMomentum).ZeroInitScale(zeroInit).Done()
}

func build(ctx *context.Context, images *Node, cfg models.Config, arch Arch) *Node {
	if images.Rank() != 4 || images.Shape().Dimensions[3] != 3 {
		panic(fmt.Errorf("resnet%d: want channels-last RGB images [batch, h, w, 3], got %s", arch.Depth, images.Shape()))
	}
	width := cfg.Width
	if width <= 0 {
		width = 1
	}
	scale := func(c int) int { return max(1, int(float64(c)*width+0.5)) }
	zeroInit := context.GetParamOr(ctx, ParamZeroInitResidual, false)
	g := images.Graph()

	x := nn.Conv2D(ctx.In("conv1"), images).Filters(scale(64)).KernelSize(7).Stride(2).Padding(3).Done()
	x = activations.Relu(bn(ctx.In("bn1"), x, false))
	// Inputs to the pool are >= 0 (after ReLU), so zero padding equals PyTorch's -inf padding.
	x = MaxPool(x).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()

	inChannels := scale(64)
	for stage := range 4 {
		planes := scale(64 << stage)
		for block := range arch.Blocks[stage] {
			stride := 1
			if stage > 0 && block == 0 {
				stride = 2
			}
			bctx := ctx.In(fmt.Sprintf("layer%d", stage+1)).In(fmt.Sprintf("%d", block))
			if arch.Bottleneck {
				x = bottleneck(bctx, x, inChannels, planes, stride, zeroInit)
				inChannels = planes * 4
			} else {
				x = basicBlock(bctx, x, inChannels, planes, stride, zeroInit)
				inChannels = planes
			}
		}
	}
	x = ReduceMean(x, 1, 2) // global average pool: [batch, channels]
	if cfg.NumClasses <= 0 {
		return x
	}
	if cfg.Dropout > 0 && ctx.IsTraining(g) {
		keep := ctx.RandomBernoulli(Scalar(g, x.DType(), 1-cfg.Dropout), x.Shape())
		x = Mul(x, MulScalar(keep, 1/(1-cfg.Dropout)))
	}
	return nn.Linear(ctx.In("fc"), x, cfg.NumClasses).Done()
}

// shortcut is the identity, or torchvision's downsample (1x1 conv with stride + BN) when the shape
// changes.
func shortcut(ctx *context.Context, x *Node, inChannels, outChannels, stride int) *Node {
	if stride == 1 && inChannels == outChannels {
		return x
	}
	ds := ctx.In("downsample")
	y := nn.Conv2D(ds.In("0"), x).Filters(outChannels).KernelSize(1).Stride(stride).Padding(0).Done()
	return bn(ds.In("1"), y, false)
}

// bottleneck is torchvision's Bottleneck (v1.5: the stride is in the 3x3 convolution).
func bottleneck(ctx *context.Context, x *Node, inChannels, planes, stride int, zeroInit bool) *Node {
	y := nn.Conv2D(ctx.In("conv1"), x).Filters(planes).KernelSize(1).Done()
	y = activations.Relu(bn(ctx.In("bn1"), y, false))
	y = nn.Conv2D(ctx.In("conv2"), y).Filters(planes).KernelSize(3).Stride(stride).Padding(1).Done()
	y = activations.Relu(bn(ctx.In("bn2"), y, false))
	y = nn.Conv2D(ctx.In("conv3"), y).Filters(planes * 4).KernelSize(1).Done()
	y = bn(ctx.In("bn3"), y, zeroInit)
	return activations.Relu(Add(y, shortcut(ctx, x, inChannels, planes*4, stride)))
}

// basicBlock is torchvision's BasicBlock (ResNet18/34): two 3x3 convolutions.
func basicBlock(ctx *context.Context, x *Node, inChannels, planes, stride int, zeroInit bool) *Node {
	y := nn.Conv2D(ctx.In("conv1"), x).Filters(planes).KernelSize(3).Stride(stride).Padding(1).Done()
	y = activations.Relu(bn(ctx.In("bn1"), y, false))
	y = nn.Conv2D(ctx.In("conv2"), y).Filters(planes).KernelSize(3).Padding(1).Done()
	y = bn(ctx.In("bn2"), y, zeroInit)
	return activations.Relu(Add(y, shortcut(ctx, x, inChannels, planes, stride)))
}

package nn

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Variable names of a BatchNorm, the same as PyTorch's nn.BatchNorm2d state-dict keys, so that the
// scope "layer1/0/bn1" plus name "weight" maps to the state-dict key "layer1.0.bn1.weight".
const (
	BNWeight      = "weight"       // trainable scale (gamma), shape [C]
	BNBias        = "bias"         // trainable offset (beta), shape [C]
	BNRunningMean = "running_mean" // non-trainable running mean, shape [C]
	BNRunningVar  = "running_var"  // non-trainable running (unbiased) variance, shape [C]
)

// BatchNormBuilder configures a batch normalisation with PyTorch semantics (see BatchNorm).
type BatchNormBuilder struct {
	ctx         *context.Context
	x           *Node
	axis        int
	epsilon     float64
	momentum    float64
	zeroInit    bool
	frozenStats bool
}

// BatchNorm normalises x over every axis but the feature axis (default the last, channels-last
// images), exactly as PyTorch's nn.BatchNorm2d:
//
//   - training (ctx.IsTraining(g)): normalise with the batch mean and biased batch variance (gradients
//     flow through both), and update running_mean/running_var as
//     running = (1-momentum)*running + momentum*batch, with the unbiased batch variance;
//   - inference: normalise with running_mean and running_var.
//
// y = (x - mean) / sqrt(var + eps) * weight + bias. Variables "weight", "bias", "running_mean",
// "running_var" are created in ctx's current scope (callers pick the scope, e.g. ctx.In("bn1")).
// Defaults: eps 1e-5, momentum 0.1 (PyTorch's). Finish with Done.
func BatchNorm(ctx *context.Context, x *Node) *BatchNormBuilder {
	return &BatchNormBuilder{ctx: ctx, x: x, axis: -1, epsilon: 1e-5, momentum: 0.1}
}

// FeatureAxis sets the feature (channel) axis; negative values count from the end. Default -1.
func (b *BatchNormBuilder) FeatureAxis(axis int) *BatchNormBuilder { b.axis = axis; return b }

// Epsilon sets the value added to the variance for numerical stability. Default 1e-5.
func (b *BatchNormBuilder) Epsilon(eps float64) *BatchNormBuilder { b.epsilon = eps; return b }

// Momentum sets the running-statistics momentum in PyTorch's convention: the weight of the NEW batch
// statistic (0.1 by default; Keras' 0.99 is PyTorch's 0.01).
func (b *BatchNormBuilder) Momentum(m float64) *BatchNormBuilder { b.momentum = m; return b }

// ZeroInitScale makes the scale (gamma) start at 0 instead of 1, as torchvision's zero_init_residual
// does for the last BN of each residual branch (the block then starts as the identity).
func (b *BatchNormBuilder) ZeroInitScale(zero bool) *BatchNormBuilder { b.zeroInit = zero; return b }

// FrozenStatistics makes the layer always use (and never update) the running statistics, also in
// training: the usual choice when fine-tuning a pretrained network on small batches.
func (b *BatchNormBuilder) FrozenStatistics(frozen bool) *BatchNormBuilder {
	b.frozenStats = frozen
	return b
}

// Done builds the normalisation and returns the normalised x (same shape and dtype).
func (b *BatchNormBuilder) Done() *Node {
	x := b.x
	g := x.Graph()
	ctx := b.ctx
	axis := b.axis
	if axis < 0 {
		axis += x.Rank()
	}
	if axis < 0 || axis >= x.Rank() {
		panic(fmt.Errorf("nn.BatchNorm in scope %q: feature axis %d out of range for input shape %s", ctx.Scope(), b.axis, x.Shape()))
	}
	channels := x.Shape().Dimensions[axis]
	dtype := x.DType()
	varShape := shapes.Make(dtype, channels)
	gammaInit := initializers.One
	if b.zeroInit {
		gammaInit = initializers.Zero
	}
	weight := ctx.WithInitializer(gammaInit).VariableWithShape(BNWeight, varShape).SetTrainable(true)
	bias := ctx.WithInitializer(initializers.Zero).VariableWithShape(BNBias, varShape).SetTrainable(true)
	runMean := ctx.WithInitializer(initializers.Zero).VariableWithShape(BNRunningMean, varShape).SetTrainable(false)
	runVar := ctx.WithInitializer(initializers.One).VariableWithShape(BNRunningVar, varShape).SetTrainable(false)

	bcast := make([]int, x.Rank())
	for i := range bcast {
		bcast[i] = 1
	}
	bcast[axis] = channels
	var mean, variance *Node
	if ctx.IsTraining(g) && !b.frozenStats {
		reduceAxes := make([]int, 0, x.Rank()-1)
		count := 1
		for i, d := range x.Shape().Dimensions {
			if i != axis {
				reduceAxes = append(reduceAxes, i)
				count *= d
			}
		}
		mean = ReduceAndKeep(x, ReduceMean, reduceAxes...)
		centered := Sub(x, mean)
		variance = ReduceAndKeep(Square(centered), ReduceMean, reduceAxes...)
		// Running statistics: PyTorch uses the unbiased variance here.
		unbiased := float64(count)
		if count > 1 {
			unbiased /= float64(count - 1)
		}
		m := b.momentum
		batchMean := StopGradient(Reshape(mean, channels))
		batchVar := StopGradient(MulScalar(Reshape(variance, channels), unbiased))
		runMean.SetValueGraph(Add(MulScalar(runMean.ValueGraph(g), 1-m), MulScalar(batchMean, m)))
		runVar.SetValueGraph(Add(MulScalar(runVar.ValueGraph(g), 1-m), MulScalar(batchVar, m)))
	} else {
		mean = Reshape(runMean.ValueGraph(g), bcast...)
		variance = Reshape(runVar.ValueGraph(g), bcast...)
	}
	// Fold scale into one multiplier per channel: (x-mean) * (gamma / sqrt(var+eps)) + beta.
	invStd := Reciprocal(Sqrt(AddScalar(variance, b.epsilon))) // Rsqrt has no gradient in GoMLX v0.26.
	scale := Mul(invStd, Reshape(weight.ValueGraph(g), bcast...))
	y := Add(Mul(Sub(x, mean), scale), Reshape(bias.ValueGraph(g), bcast...))
	if y.DType() != dtype {
		y = ConvertDType(y, dtype)
	}
	return y
}

package nn

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Variable names of Conv2D and Linear, the same as PyTorch's nn.Conv2d / nn.Linear state-dict keys.
// Layouts differ: a Conv2D "weight" is [kh, kw, in, out] here and [out, in, kh, kw] in PyTorch
// (transpose axes 2,3,1,0 to go from PyTorch to here); a Linear "weight" is [in, out] here and
// [out, in] in PyTorch.
const (
	ParamWeight = "weight"
	ParamBias   = "bias"
)

// Conv2DBuilder configures a 2D convolution over channels-last images (see Conv2D).
type Conv2DBuilder struct {
	ctx              *context.Context
	x                *Node
	filters, kernel  int
	stride           int
	padding          int
	useBias          bool
	initStd          float64
	initStdIsDefault bool
}

// Conv2D starts a square 2D convolution of channels-last x [batch, height, width, in] with
// PyTorch's symmetric padding (default (kernel-1)/2 on every side, PyTorch's choice in torchvision's
// ResNet and EfficientNet; this differs from TensorFlow's "SAME" when the stride is 2).
// Variables: "weight" [k, k, in, filters] and, with Bias(true), "bias" [filters], in ctx's current
// scope. The default initialisation is Kaiming-normal with fan-out (std sqrt(2/(k*k*filters))), as
// torchvision's ResNet and EfficientNet. On XLA it is one convolution op; elsewhere a 1x1 kernel is a
// matrix product and larger kernels use im2col (Im2ColConv2D), both much faster on the pure-Go backend.
// Example:
//
//	y := nn.Conv2D(ctx.In("conv1"), x).Filters(64).KernelSize(7).Stride(2).Done()
func Conv2D(ctx *context.Context, x *Node) *Conv2DBuilder {
	return &Conv2DBuilder{ctx: ctx, x: x, kernel: 1, stride: 1, padding: -1, initStdIsDefault: true}
}

// Filters sets the number of output channels (required).
func (c *Conv2DBuilder) Filters(n int) *Conv2DBuilder { c.filters = n; return c }

// KernelSize sets the square kernel size. Default 1.
func (c *Conv2DBuilder) KernelSize(k int) *Conv2DBuilder { c.kernel = k; return c }

// Stride sets the stride on both spatial axes. Default 1.
func (c *Conv2DBuilder) Stride(s int) *Conv2DBuilder { c.stride = s; return c }

// Padding sets the zero padding added on each side of both spatial axes. Default (kernel-1)/2.
func (c *Conv2DBuilder) Padding(p int) *Conv2DBuilder { c.padding = p; return c }

// Bias adds a per-filter bias variable "bias" (zero-initialised). Default false.
func (c *Conv2DBuilder) Bias(use bool) *Conv2DBuilder { c.useBias = use; return c }

// InitStd sets the standard deviation of the normal initialisation of "weight", replacing the
// Kaiming fan-out default.
func (c *Conv2DBuilder) InitStd(std float64) *Conv2DBuilder {
	c.initStd, c.initStdIsDefault = std, false
	return c
}

// Done builds the convolution and returns [batch, outHeight, outWidth, filters].
func (c *Conv2DBuilder) Done() *Node {
	x := c.x
	if x.Rank() != 4 {
		panic(fmt.Errorf("nn.Conv2D in scope %q: want channels-last images [batch, h, w, c], got shape %s", c.ctx.Scope(), x.Shape()))
	}
	if c.filters <= 0 || c.kernel <= 0 || c.stride <= 0 {
		panic(fmt.Errorf("nn.Conv2D in scope %q: filters (%d), kernel size (%d) and stride (%d) must be positive", c.ctx.Scope(), c.filters, c.kernel, c.stride))
	}
	g := x.Graph()
	in := x.Shape().Dimensions[3]
	pad := c.padding
	if pad < 0 {
		pad = (c.kernel - 1) / 2
	}
	std := c.initStd
	if c.initStdIsDefault {
		std = math.Sqrt(2.0 / float64(c.kernel*c.kernel*c.filters))
	}
	w := c.ctx.WithInitializer(initializers.RandomNormalFn(c.ctx, std)).
		VariableWithShape(ParamWeight, shapes.Make(x.DType(), c.kernel, c.kernel, in, c.filters))
	var y *Node
	if c.kernel == 1 && pad == 0 {
		// A 1x1 convolution is a matrix product (on strided pixels): much faster on the pure-Go backend.
		if c.stride > 1 {
			x = Slice(x, AxisRange(), AxisRange().Stride(c.stride), AxisRange().Stride(c.stride), AxisRange())
		}
		y = Pointwise(x, w.ValueGraph(g))
	} else if !IsXLA(g) || (x.Shape().Dimensions[1] <= xlaSmallSpatial && x.Shape().Dimensions[2] <= xlaSmallSpatial) {
		// im2col + one matrix product: several times faster than the pure-Go backend's convolution, and
		// than XLA CPU's on small images (see xlaSmallSpatial).
		y = Im2ColConv2D(x, w.ValueGraph(g), c.stride, [2][2]int{{pad, pad}, {pad, pad}})
	} else {
		y = Convolve(x, w.ValueGraph(g)).Strides(c.stride).
			PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	}
	if c.useBias {
		b := c.ctx.WithInitializer(initializers.Zero).VariableWithShape(ParamBias, shapes.Make(x.DType(), c.filters))
		y = Add(y, Reshape(b.ValueGraph(g), 1, 1, 1, c.filters))
	}
	return y
}

// xlaSmallSpatial is the largest input height and width for which Conv2D uses im2col on XLA: XLA CPU's
// convolution falls off its fast path when the kernel covers most of the input (measured, batch 8: a 3x3
// 512->512 convolution of 2x2 inputs took 120 ms forward and 240 ms for its input gradient, 4.7 and 10.7
// ms with im2col; a stride-2 one on 4x4 inputs 120 ms for its input gradient, 10 ms with im2col). At 7x7
// both take the same time; above, XLA's convolution is faster.
const xlaSmallSpatial = 7

// LinearBuilder configures a fully connected layer (see Linear).
type LinearBuilder struct {
	ctx                    *context.Context
	x                      *Node
	outputs                int
	weightRange, biasRange float64
}

// Linear starts a fully connected layer on x [batch, in] (any leading axes work; the last one is
// contracted) with "weight" [in, outputs] and "bias" [outputs] in ctx's current scope. Default
// initialisation is PyTorch's nn.Linear: weight and bias uniform in ±1/sqrt(in).
func Linear(ctx *context.Context, x *Node, outputs int) *LinearBuilder {
	in := x.Shape().Dimensions[x.Rank()-1]
	r := 1 / math.Sqrt(float64(in))
	return &LinearBuilder{ctx: ctx, x: x, outputs: outputs, weightRange: r, biasRange: r}
}

// WeightRange sets the weight initialisation to uniform in ±r.
func (l *LinearBuilder) WeightRange(r float64) *LinearBuilder { l.weightRange = r; return l }

// BiasRange sets the bias initialisation to uniform in ±r (0: zeros).
func (l *LinearBuilder) BiasRange(r float64) *LinearBuilder { l.biasRange = r; return l }

// Done builds the layer and returns x·weight + bias, shape [..., outputs].
func (l *LinearBuilder) Done() *Node {
	x := l.x
	if x.Rank() < 1 || l.outputs <= 0 {
		panic(fmt.Errorf("nn.Linear in scope %q: need input rank >= 1 and outputs > 0, got shape %s and %d outputs", l.ctx.Scope(), x.Shape(), l.outputs))
	}
	g := x.Graph()
	in := x.Shape().Dimensions[x.Rank()-1]
	w := l.ctx.WithInitializer(initializers.RandomUniformFn(l.ctx, -l.weightRange, l.weightRange)).
		VariableWithShape(ParamWeight, shapes.Make(x.DType(), in, l.outputs))
	var bInit initializers.VariableInitializer = initializers.Zero
	if l.biasRange > 0 {
		bInit = initializers.RandomUniformFn(l.ctx, -l.biasRange, l.biasRange)
	}
	b := l.ctx.WithInitializer(bInit).VariableWithShape(ParamBias, shapes.Make(x.DType(), l.outputs))
	lead := x.Shape().Dimensions[:x.Rank()-1]
	flat := Reshape(x, -1, in)
	y := Add(MatrixProduct(flat, w.ValueGraph(g)), Reshape(b.ValueGraph(g), 1, l.outputs))
	return Reshape(y, append(append([]int{}, lead...), l.outputs)...)
}

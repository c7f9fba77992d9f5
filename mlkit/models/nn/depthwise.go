// Package nn holds graph building blocks that several model families share.
//
// This file: blocks GoMLX's stock layers do not provide in a form every backend runs well: depthwise 2D
// convolution (Keras DepthwiseConv2D), zero padding without the Pad op, pointwise (1x1) convolution as a
// matrix product and im2col dense convolution. GoMLX v0.26.0's pure-Go backend ("go") crashes the whole
// process on grouped convolution and lacks the Pad op, so these helpers build the same results out of
// slices, concatenations and products, which every backend runs.
package nn

import (
	"fmt"
	"os"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// DepthwiseImpl chooses how a depthwise convolution is computed.
type DepthwiseImpl int

const (
	// DepthwiseAuto uses XLA's grouped convolution when the graph runs on an XLA accelerator (not the
	// XLA CPU plugin) and no gradient is needed, and shifted slices otherwise: the pure-Go backend crashes
	// on grouped convolution, GoMLX has no gradient for it, and on XLA CPU it measured 8x slower than
	// shifted slices (MobileNetV2 0.35, batch 8: 1.7 vs 14 img/s on 2 busy cores).
	DepthwiseAuto DepthwiseImpl = iota
	// DepthwiseShifted computes the convolution as a sum over the k*k kernel taps of a strided slice of the
	// padded input times that tap's per-channel weights, with a gradient of its own (a shifted-slice sum
	// for the input, one reduction per tap for the kernel; see depthwiseGradients). Runs on every backend
	// and is differentiable wherever the Pad op is available.
	DepthwiseShifted
	// DepthwiseGrouped uses graph.Convolve with ChannelGroupCount = channels. Never use it on the pure-Go
	// backend: it kills the process.
	DepthwiseGrouped
	// DepthwiseShiftedAutodiff is DepthwiseShifted differentiated op by op by GoMLX instead of with the
	// convolution's own gradient (see depthwiseGradients) and without the fusion barrier (see
	// fusionBarrier): the same values, a much slower gradient on XLA CPU. Kept to measure against
	// (BenchmarkDepthwiseB0) and to test the own gradient with.
	DepthwiseShiftedAutodiff
)

// String names the implementation.
func (d DepthwiseImpl) String() string {
	switch d {
	case DepthwiseAuto:
		return "auto"
	case DepthwiseShifted:
		return "shifted"
	case DepthwiseGrouped:
		return "grouped"
	case DepthwiseShiftedAutodiff:
		return "shifted-autodiff"
	}
	return fmt.Sprintf("DepthwiseImpl(%d)", int(d))
}

// ImplEnv names the environment variable that overrides what DepthwiseAuto picks: "shifted",
// "shifted-autodiff" or "grouped" ("grouped" is still refused on non-XLA backends, where it would crash).
const ImplEnv = "MLKIT_DEPTHWISE"

func autoImpl(g *Graph, needGradient bool) DepthwiseImpl {
	xla := IsXLA(g)
	switch os.Getenv(ImplEnv) {
	case "shifted":
		return DepthwiseShifted
	case "shifted-autodiff":
		return DepthwiseShiftedAutodiff
	case "grouped":
		if xla {
			return DepthwiseGrouped
		}
	}
	if xla && !needGradient && !strings.HasPrefix(strings.ToLower(g.Backend().Description()), "xla:cpu") {
		return DepthwiseGrouped
	}
	return DepthwiseShifted
}

// IsXLA reports whether the graph is built for the XLA backend (the only one where grouped convolution
// is safe).
func IsXLA(g *Graph) bool {
	b := g.Backend()
	return b != nil && strings.Contains(strings.ToLower(b.Name()), "xla")
}

// DepthwiseBuilder configures a depthwise 2D convolution of a given input and kernel; create it with
// Depthwise and finish with Done.
type DepthwiseBuilder struct {
	x, kernel    *Node
	strides      [2]int
	padSame      bool
	padding      [2][2]int
	impl         DepthwiseImpl
	needGradient bool
}

// Depthwise starts a depthwise 2D convolution of x [batch, height, width, channels] (channels last) with
// kernel [kh, kw, channels, multiplier] (the Keras DepthwiseConv2D layout). Every input channel c is
// convolved with its own kh x kw filters; output channel c*multiplier+j uses kernel[:, :, c, j], exactly as
// Keras/TensorFlow order them. Defaults: stride 1, "valid" padding (no padding), DepthwiseAuto.
func Depthwise(x, kernel *Node) *DepthwiseBuilder {
	return &DepthwiseBuilder{x: x, kernel: kernel, strides: [2]int{1, 1}}
}

// Strides sets the same stride on both spatial axes.
func (b *DepthwiseBuilder) Strides(s int) *DepthwiseBuilder { b.strides = [2]int{s, s}; return b }

// StridePerAxis sets the strides of the height and width axes.
func (b *DepthwiseBuilder) StridePerAxis(sh, sw int) *DepthwiseBuilder {
	b.strides = [2]int{sh, sw}
	return b
}

// PadSame pads like TensorFlow's "same": output size ceil(in/stride), the odd pixel of padding at the end.
func (b *DepthwiseBuilder) PadSame() *DepthwiseBuilder { b.padSame = true; return b }

// NoPadding is Keras "valid" padding (the default).
func (b *DepthwiseBuilder) NoPadding() *DepthwiseBuilder {
	b.padSame = false
	b.padding = [2][2]int{}
	return b
}

// Padding sets explicit zero padding: [[top, bottom], [left, right]] (like a Keras ZeroPadding2D before a
// "valid" convolution).
func (b *DepthwiseBuilder) Padding(p [2][2]int) *DepthwiseBuilder {
	b.padSame = false
	b.padding = p
	return b
}

// Implementation forces one implementation (default DepthwiseAuto).
func (b *DepthwiseBuilder) Implementation(impl DepthwiseImpl) *DepthwiseBuilder {
	b.impl = impl
	return b
}

// NeedsGradient tells DepthwiseAuto a gradient will be taken (training), which rules out grouped
// convolution (GoMLX has no gradient for it).
func (b *DepthwiseBuilder) NeedsGradient(v bool) *DepthwiseBuilder { b.needGradient = v; return b }

// SamePadding returns TensorFlow's "same" padding (before, after) for one axis.
func SamePadding(in, kernel, stride int) [2]int {
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+kernel-in, 0)
	return [2]int{total / 2, total - total/2}
}

// Done builds the convolution and returns [batch, outH, outW, channels*multiplier].
func (b *DepthwiseBuilder) Done() *Node {
	x, kernel := b.x, b.kernel
	if x.Rank() != 4 || kernel.Rank() != 4 {
		panic(fmt.Errorf("nn.Depthwise: x must be [batch, h, w, c] and kernel [kh, kw, c, multiplier]; got x %s, kernel %s", x.Shape(), kernel.Shape()))
	}
	c := x.Shape().Dimensions[3]
	kh, kw, kc, mult := kernel.Shape().Dimensions[0], kernel.Shape().Dimensions[1], kernel.Shape().Dimensions[2], kernel.Shape().Dimensions[3]
	if kc != c {
		panic(fmt.Errorf("nn.Depthwise: kernel %s has %d input channels, x %s has %d", kernel.Shape(), kc, x.Shape(), c))
	}
	if kernel.DType() != x.DType() {
		kernel = ConvertDType(kernel, x.DType())
	}
	pad := b.padding
	if b.padSame {
		pad[0] = SamePadding(x.Shape().Dimensions[1], kh, b.strides[0])
		pad[1] = SamePadding(x.Shape().Dimensions[2], kw, b.strides[1])
	}
	impl := b.impl
	if impl == DepthwiseAuto {
		impl = autoImpl(x.Graph(), b.needGradient)
	}
	if impl == DepthwiseGrouped {
		k := Reshape(kernel, kh, kw, 1, c*mult)
		return Convolve(x, k).ChannelGroupCount(c).StridePerAxis(b.strides[0], b.strides[1]).
			PaddingPerDim([][2]int{pad[0], pad[1]}).Done()
	}
	if impl == DepthwiseShiftedAutodiff {
		return shiftedDepthwise(x, kernel, b.strides, pad)
	}
	return depthwiseWithGradient(x, kernel, b.strides, pad)
}

// depthwiseWithGradient is shiftedDepthwise with a gradient of its own (see depthwiseGradients).
func depthwiseWithGradient(x, kernel *Node, strides [2]int, pad [2][2]int) *Node {
	sx, sk := StopGradient(x), StopGradient(kernel)
	c, mult := kernel.Shape().Dimensions[2], kernel.Shape().Dimensions[3]
	y := fusionBarrier(shiftedDepthwise(sx, sk, strides, pad), Reshape(sk, -1, c*mult))
	return CustomGradient(y, []*Node{x, kernel}, func(dy *Node) []*Node {
		// dy is read once per tap by both gradients: compute it once (see fusionBarrier).
		dx, dk := depthwiseGradients(sx, sk, fusionBarrier(dy, Reshape(sk, -1, c*mult)), strides, pad)
		return []*Node{dx, dk}
	})
}

// shiftedDepthwise is the depthwise convolution of x [batch, h, w, c] with kernel [kh, kw, c, mult] as a sum
// over the kernel taps of a strided slice of the zero-padded x times that tap's per-channel weights.
func shiftedDepthwise(x, kernel *Node, strides [2]int, pad [2][2]int) *Node {
	c := x.Shape().Dimensions[3]
	kh, kw, mult := kernel.Shape().Dimensions[0], kernel.Shape().Dimensions[1], kernel.Shape().Dimensions[3]
	xp := ZeroPad2D(x, pad)
	hp, wp := xp.Shape().Dimensions[1], xp.Shape().Dimensions[2]
	outH := (hp-kh)/strides[0] + 1
	outW := (wp-kw)/strides[1] + 1
	if outH <= 0 || outW <= 0 {
		panic(fmt.Errorf("nn.Depthwise: input %s padded to %dx%d is smaller than the %dx%d kernel", x.Shape(), hp, wp, kh, kw))
	}
	var sum *Node
	for i := range kh {
		for j := range kw {
			tap := depthwiseTap(xp, i, j, outH, outW, strides)
			w := Slice(kernel, AxisElem(i), AxisElem(j), AxisRange(), AxisRange()) // [1, 1, c, mult]
			var term *Node
			if mult == 1 {
				term = Mul(tap, Reshape(w, 1, 1, 1, c))
			} else {
				term = Mul(InsertAxes(tap, -1), Reshape(w, 1, 1, 1, c, mult))
				term = Reshape(term, term.Shape().Dimensions[0], outH, outW, c*mult)
			}
			if sum == nil {
				sum = term
			} else {
				sum = Add(sum, term)
			}
		}
	}
	return sum
}

// fusionBarrier returns x, made so that XLA computes it once into a buffer instead of fusing its
// computation into each consumer. XLA's fusion duplicates a producer made of cheap operations (adds,
// multiplies, slices) into every consumer that reads it; a depthwise convolution's output is kh*kw
// slices, multiplies and adds per element, and its gradient reads it (through the loss's adjoint) once
// per tap in kh*kw reductions: XLA CPU then evaluated the forward convolution kh*kw times over (measured:
// EfficientNet-B0's first five depthwise layers at 64 px, batch 8, kernel gradient of sum(y^2): 518 ms,
// 80 ms with the barrier, on a loaded machine). A floating-point division counts as expensive, so it is
// not duplicated: x is divided by a per-channel vector of ones that XLA cannot fold because it is
// computed from anchor (1 + 0*anchor; the anchor's gradient is stopped). anchor is [..., channels] with
// x's channels last. Only on XLA; other backends get x back.
func fusionBarrier(x, anchor *Node) *Node {
	if !IsXLA(x.Graph()) {
		return x
	}
	c := x.Shape().Dimensions[x.Rank()-1]
	a := StopGradient(anchor)
	ranges := make([]SliceAxisSpec, a.Rank())
	for i := range ranges {
		ranges[i] = AxisRange(0, 1)
	}
	ranges[len(ranges)-1] = AxisRange()
	a = Reshape(Slice(a, ranges...), c)
	if a.DType() != x.DType() {
		a = ConvertDType(a, x.DType())
	}
	ones := AddScalar(MulScalar(a, 0), 1)
	bshape := make([]int, x.Rank())
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[len(bshape)-1] = c
	return Div(x, Reshape(ones, bshape...))
}

// depthwiseTap is the slice of the padded input xp that kernel tap (i, j) multiplies: rows i, i+s, ...,
// outH of them, and likewise for the columns.
func depthwiseTap(xp *Node, i, j, outH, outW int, strides [2]int) *Node {
	return Slice(xp, AxisRange(),
		AxisRange(i, i+(outH-1)*strides[0]+1).Stride(strides[0]),
		AxisRange(j, j+(outW-1)*strides[1]+1).Stride(strides[1]),
		AxisRange())
}

// depthwiseGradients returns the gradients of a depthwise convolution (shiftedDepthwise of x and kernel,
// given strides and padding) with respect to x and kernel, given the output's adjoint dy
// [batch, outH, outW, c*mult].
//
// Differentiating shiftedDepthwise op by op (GoMLX's autodiff) pads each tap's adjoint back to the padded
// input's size and adds the kh*kw padded tensors, and the weights' adjoint goes through broadcasts; here
// the input gradient is itself a shifted-slice sum: dy is dilated by the stride and zero-padded by
// kernel-1 (one Pad), and dx is the sum over taps of a slice of it times the spatially flipped weights
// (the transposed convolution); the kernel gradient is one reduction per tap of the tap's input slice
// times dy.
func depthwiseGradients(x, kernel, dy *Node, strides [2]int, pad [2][2]int) (dx, dk *Node) {
	g := x.Graph()
	n, h, w, c := x.Shape().Dimensions[0], x.Shape().Dimensions[1], x.Shape().Dimensions[2], x.Shape().Dimensions[3]
	kh, kw, mult := kernel.Shape().Dimensions[0], kernel.Shape().Dimensions[1], kernel.Shape().Dimensions[3]
	outH, outW := dy.Shape().Dimensions[1], dy.Shape().Dimensions[2]
	dy5 := Reshape(dy, n, outH, outW, c, mult)

	// Kernel gradient: dk[i, j, ch, m] = sum over batch and output pixels of tap_ij[ch] * dy[ch, m].
	xp := ZeroPad2D(x, pad)
	parts := make([]*Node, 0, kh*kw)
	for i := range kh {
		for j := range kw {
			tap := InsertAxes(depthwiseTap(xp, i, j, outH, outW, strides), -1) // [n, outH, outW, c, 1]
			parts = append(parts, Reshape(ReduceSum(Mul(tap, dy5), 0, 1, 2), 1, c*mult))
		}
	}
	dk = Reshape(Concatenate(parts, 0), kh, kw, c, mult)

	// Input gradient: dx[y, x] = sum_{i, j} dyd[y + top - i, x + left - j] * kernel[i, j], with dyd dy dilated
	// by the stride (zeros in between). With dz = dyd padded by pre = kh-1-top rows before, this is
	// sum_{i'} dz[y + i'] * kernel[kh-1-i'], i' = kh-1-i: a valid correlation with the flipped kernel.
	axis := func(k, size, out, stride, before int) (cfg PadAxis, off int) {
		pre := k - 1 - before
		if pre < 0 {
			off, pre = -pre, 0
		}
		dilated := (out-1)*stride + 1
		post := max(0, off+size+k-1-pre-dilated)
		return PadAxis{Start: pre, End: post, Interior: stride - 1}, off
	}
	padH, offH := axis(kh, h, outH, strides[0], pad[0][0])
	padW, offW := axis(kw, w, outW, strides[1], pad[1][0])
	dz := Pad(dy5, ScalarZero(g, dy.DType()), PadAxis{}, padH, padW, PadAxis{}, PadAxis{})
	var sum *Node
	for i := range kh {
		for j := range kw {
			tap := Slice(dz, AxisRange(), AxisRange(offH+i, offH+i+h), AxisRange(offW+j, offW+j+w), AxisRange(), AxisRange())
			wt := Reshape(Slice(kernel, AxisElem(kh-1-i), AxisElem(kw-1-j), AxisRange(), AxisRange()), 1, 1, 1, c, mult)
			term := Mul(tap, wt)
			if sum == nil {
				sum = term
			} else {
				sum = Add(sum, term)
			}
		}
	}
	if mult == 1 {
		dx = Reshape(sum, n, h, w, c)
	} else {
		dx = ReduceSum(sum, -1)
	}
	return dx, dk
}

// ZeroPad2D pads x [batch, h, w, c] with zeros: [[top, bottom], [left, right]], like Keras ZeroPadding2D.
// It concatenates zero blocks instead of using the Pad op, which the pure-Go backend lacks.
func ZeroPad2D(x *Node, pad [2][2]int) *Node {
	for axis := 1; axis <= 2; axis++ {
		p := pad[axis-1]
		if p[0] < 0 || p[1] < 0 {
			panic(fmt.Errorf("nn.ZeroPad2D: negative padding %v", pad))
		}
		if p[0] == 0 && p[1] == 0 {
			continue
		}
		parts := make([]*Node, 0, 3)
		zeros := func(n int) *Node {
			dims := x.Shape().Clone().Dimensions
			dims[axis] = n
			return Zeros(x.Graph(), shapes.Make(x.DType(), dims...))
		}
		if p[0] > 0 {
			parts = append(parts, zeros(p[0]))
		}
		parts = append(parts, x)
		if p[1] > 0 {
			parts = append(parts, zeros(p[1]))
		}
		x = Concatenate(parts, axis)
	}
	return x
}

// Pointwise is a 1x1 convolution, stride 1: x [batch, h, w, cin] times kernel [1, 1, cin, cout] (or
// [cin, cout]), computed as one matrix product (much faster than a general convolution on the pure-Go
// backend, identical on XLA).
func Pointwise(x, kernel *Node) *Node {
	dims := x.Shape().Dimensions
	if x.Rank() != 4 {
		panic(fmt.Errorf("nn.Pointwise: x must be [batch, h, w, c], got %s", x.Shape()))
	}
	kd := kernel.Shape().Dimensions
	cin, cout := kd[len(kd)-2], kd[len(kd)-1]
	if cin != dims[3] || kernel.Shape().Size() != cin*cout {
		panic(fmt.Errorf("nn.Pointwise: kernel %s does not map %d input channels (x %s)", kernel.Shape(), dims[3], x.Shape()))
	}
	if kernel.DType() != x.DType() {
		kernel = ConvertDType(kernel, x.DType())
	}
	flat := Reshape(x, dims[0]*dims[1]*dims[2], cin)
	out := MatrixProduct(flat, Reshape(kernel, cin, cout))
	return Reshape(out, dims[0], dims[1], dims[2], cout)
}

// Im2ColConv2D is a dense 2D convolution of x [batch, h, w, cin] with kernel [kh, kw, cin, cout] (Keras layout),
// computed by im2col: the kh*kw strided slices of the zero-padded input are concatenated along channels
// and multiplied by the reshaped kernel in one matrix product. pad is [[top, bottom], [left, right]]
// (see SamePadding). On the pure-Go backend this is several times faster than its general convolution;
// it is also differentiable there, except for the Pad-based gradient of Slice (see the package doc).
func Im2ColConv2D(x, kernel *Node, stride int, pad [2][2]int) *Node {
	if x.Rank() != 4 || kernel.Rank() != 4 {
		panic(fmt.Errorf("nn.Im2ColConv2D: x must be [batch, h, w, c] and kernel [kh, kw, cin, cout]; got x %s, kernel %s", x.Shape(), kernel.Shape()))
	}
	kd := kernel.Shape().Dimensions
	kh, kw, cin, cout := kd[0], kd[1], kd[2], kd[3]
	if cin != x.Shape().Dimensions[3] {
		panic(fmt.Errorf("nn.Im2ColConv2D: kernel %s expects %d input channels, x %s has %d", kernel.Shape(), cin, x.Shape(), x.Shape().Dimensions[3]))
	}
	if kernel.DType() != x.DType() {
		kernel = ConvertDType(kernel, x.DType())
	}
	if kh == 1 && kw == 1 && stride == 1 && pad == [2][2]int{} {
		return Pointwise(x, kernel)
	}
	xp := ZeroPad2D(x, pad)
	n, hp, wp := xp.Shape().Dimensions[0], xp.Shape().Dimensions[1], xp.Shape().Dimensions[2]
	outH, outW := (hp-kh)/stride+1, (wp-kw)/stride+1
	if outH <= 0 || outW <= 0 {
		panic(fmt.Errorf("nn.Im2ColConv2D: input %s padded to %dx%d is smaller than the %dx%d kernel", x.Shape(), hp, wp, kh, kw))
	}
	taps := make([]*Node, 0, kh*kw)
	for i := range kh {
		for j := range kw {
			taps = append(taps, Slice(xp, AxisRange(),
				AxisRange(i, i+(outH-1)*stride+1).Stride(stride),
				AxisRange(j, j+(outW-1)*stride+1).Stride(stride),
				AxisRange()))
		}
	}
	cols := Reshape(Concatenate(taps, -1), n*outH*outW, kh*kw*cin)
	out := MatrixProduct(cols, Reshape(kernel, kh*kw*cin, cout))
	return Reshape(out, n, outH, outW, cout)
}

// DepthwiseConv2DBuilder configures a Keras-style DepthwiseConv2D layer whose weights live in the context:
// "depthwise_kernel" [k, k, channels, multiplier] and, with UseBias, "bias" [channels*multiplier], named as
// Keras names them. Create it with DepthwiseConv2D and finish with Done.
type DepthwiseConv2DBuilder struct {
	ctx        *context.Context
	x          *Node
	kernelSize int
	mult       int
	strides    int
	padSame    bool
	padding    *[2][2]int
	useBias    bool
	impl       DepthwiseImpl
}

// DepthwiseConv2D starts a depthwise convolution layer on x [batch, h, w, channels] using ctx's current
// scope for its variables ("depthwise_kernel", and "bias" when UseBias). Defaults follow Keras: 3x3 kernel,
// multiplier 1, stride 1, "valid" padding, with bias. Example:
//
//	y := nn.DepthwiseConv2D(ctx.In("block_1_depthwise"), x).Strides(2).PadSame().UseBias(false).Done()
func DepthwiseConv2D(ctx *context.Context, x *Node) *DepthwiseConv2DBuilder {
	return &DepthwiseConv2DBuilder{ctx: ctx, x: x, kernelSize: 3, mult: 1, strides: 1, useBias: true}
}

// KernelSize sets the square kernel size (default 3).
func (b *DepthwiseConv2DBuilder) KernelSize(k int) *DepthwiseConv2DBuilder {
	b.kernelSize = k
	return b
}

// DepthMultiplier sets how many output channels each input channel produces (default 1).
func (b *DepthwiseConv2DBuilder) DepthMultiplier(m int) *DepthwiseConv2DBuilder { b.mult = m; return b }

// Strides sets the stride on both spatial axes (default 1).
func (b *DepthwiseConv2DBuilder) Strides(s int) *DepthwiseConv2DBuilder { b.strides = s; return b }

// PadSame uses TensorFlow "same" padding.
func (b *DepthwiseConv2DBuilder) PadSame() *DepthwiseConv2DBuilder {
	b.padSame, b.padding = true, nil
	return b
}

// NoPadding uses "valid" padding (the default).
func (b *DepthwiseConv2DBuilder) NoPadding() *DepthwiseConv2DBuilder {
	b.padSame, b.padding = false, nil
	return b
}

// Padding sets explicit zero padding [[top, bottom], [left, right]].
func (b *DepthwiseConv2DBuilder) Padding(p [2][2]int) *DepthwiseConv2DBuilder {
	b.padSame, b.padding = false, &p
	return b
}

// UseBias adds a per-output-channel bias (default true, like Keras).
func (b *DepthwiseConv2DBuilder) UseBias(v bool) *DepthwiseConv2DBuilder { b.useBias = v; return b }

// Implementation forces an implementation (default DepthwiseAuto).
func (b *DepthwiseConv2DBuilder) Implementation(impl DepthwiseImpl) *DepthwiseConv2DBuilder {
	b.impl = impl
	return b
}

// Done creates (or reuses) the variables and returns the convolved x.
func (b *DepthwiseConv2DBuilder) Done() *Node {
	g := b.x.Graph()
	c := b.x.Shape().Dimensions[3]
	dtype := b.x.DType()
	kVar := b.ctx.VariableWithShape("depthwise_kernel", shapes.Make(dtype, b.kernelSize, b.kernelSize, c, b.mult))
	d := Depthwise(b.x, kVar.ValueGraph(g)).Strides(b.strides).Implementation(b.impl).NeedsGradient(b.ctx.IsTraining(g))
	if b.padSame {
		d.PadSame()
	} else if b.padding != nil {
		d.Padding(*b.padding)
	}
	y := d.Done()
	if b.useBias {
		bVar := b.ctx.WithInitializer(initializers.Zero).VariableWithShape("bias", shapes.Make(dtype, c*b.mult))
		y = Add(y, Reshape(bVar.ValueGraph(g), 1, 1, 1, c*b.mult))
	}
	return y
}

// Relu6 is min(max(x, 0), 6), Keras ReLU(max_value=6).
func Relu6(x *Node) *Node {
	return ClipScalar(x, 0, 6)
}

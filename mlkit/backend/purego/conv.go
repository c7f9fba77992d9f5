package purego

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// ConvGeneral computes XLA's general convolution by im2col: the input is moved to channels-last layout,
// dilated and padded with Pad, one strided slice is taken per kernel position, the slices are concatenated
// along the channels and multiplied by the flattened kernel in one DotGeneral.
//
// Channel groups become a DotGeneral batched over groups; depthwise convolution (one input channel and one
// output channel per group) becomes a sum over kernel positions of slice × per-channel weight. Batch groups
// (used by no gradient of an ungrouped convolution) are left to simplego.
func (b *Builder) ConvGeneral(input, kernel backends.Op, axes backends.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
	channelGroupCount, batchGroupCount int) (backends.Op, error) {
	channelGroupCount = max(channelGroupCount, 1)
	batchGroupCount = max(batchGroupCount, 1)
	if batchGroupCount > 1 {
		return b.Builder.ConvGeneral(input, kernel, axes, strides, paddings, inputDilations, kernelDilations,
			channelGroupCount, batchGroupCount)
	}
	c := &chain{b: b.Builder, op: "ConvGeneral"}
	n := len(axes.InputSpatial)
	// GoMLX's graph passes nil or zeros for "unset" strides and dilations.
	strides, inputDilations, kernelDilations = onesIfUnset(strides, n), onesIfUnset(inputDilations, n), onesIfUnset(kernelDilations, n)
	inShape, kShape := c.shape(input), c.shape(kernel)
	if c.err != nil {
		return nil, c.err
	}
	outShape, err := shapeinference.ConvGeneralOp(inShape, kShape, axes, strides, paddings, inputDilations,
		kernelDilations, channelGroupCount, batchGroupCount)
	if err != nil {
		return nil, fmt.Errorf("%s backend: ConvGeneral(input %s, kernel %s): %w", BackendName, inShape, kShape, err)
	}
	at := func(v []int, i, def int) int {
		if len(v) == 0 {
			return def
		}
		return v[i]
	}

	// Input to [B, S..., C], dilated and padded.
	perm := append(append([]int{axes.InputBatch}, axes.InputSpatial...), axes.InputChannels)
	x := c.transpose(input, perm...)
	padCfg := make([]backends.PadAxis, n+2)
	needPad := false
	for i := range n {
		p := backends.PadAxis{Interior: at(inputDilations, i, 1) - 1}
		if len(paddings) > 0 {
			p.Start, p.End = paddings[i][0], paddings[i][1]
		}
		needPad = needPad || p != backends.PadAxis{}
		padCfg[1+i] = p
	}
	if needPad {
		x = c.pad(x, c.scalar(inShape.DType, 0), padCfg)
	}
	batch, channels := inShape.Dimensions[axes.InputBatch], inShape.Dimensions[axes.InputChannels]

	// Kernel to [K..., Cin/G, Cout].
	kPerm := append(append([]int{}, axes.KernelSpatial...), axes.KernelInputChannels, axes.KernelOutputChannels)
	k := c.transpose(kernel, kPerm...)
	kSpatial := make([]int, n)
	for i, a := range axes.KernelSpatial {
		kSpatial[i] = kShape.Dimensions[a]
	}
	outChannels := kShape.Dimensions[axes.KernelOutputChannels]
	outSpatial := make([]int, n)
	numOut := batch
	for i, a := range axes.OutputSpatial {
		outSpatial[i] = outShape.Dimensions[a]
		numOut *= outSpatial[i]
	}
	numPositions := 1
	for _, d := range kSpatial {
		numPositions *= d
	}
	xShape := c.shape(x)
	if c.err != nil {
		return nil, c.err
	}

	// One strided slice [B, O..., C] per kernel position.
	var patches []backends.Op
	forEachIndex(kSpatial, func(p []int) {
		starts, limits := make([]int, n+2), append([]int(nil), xShape.Dimensions...)
		sliceStrides := make([]int, n+2)
		sliceStrides[0], sliceStrides[n+1] = 1, 1
		for i := range n {
			starts[1+i] = p[i] * at(kernelDilations, i, 1)
			sliceStrides[1+i] = at(strides, i, 1)
			limits[1+i] = starts[1+i] + (outSpatial[i]-1)*sliceStrides[1+i] + 1
		}
		patches = append(patches, c.slice(x, starts, limits, sliceStrides))
	})
	if len(patches) == 0 || numOut == 0 {
		// Degenerate shapes: let simplego handle them.
		return b.Builder.ConvGeneral(input, kernel, axes, strides, paddings, inputDilations, kernelDilations,
			channelGroupCount, batchGroupCount)
	}

	groups := channelGroupCount
	groupIn, groupOut := channels/groups, outChannels/groups
	// y is [B, O..., Cout] once computed.
	var y backends.Op
	ySpatialDims := append(append([]int{batch}, outSpatial...), outChannels)
	switch {
	case groups == 1:
		cols := c.reshape(c.concat(n+1, patches...), numOut, numPositions*channels)
		w := c.reshape(k, numPositions*channels, outChannels)
		y = c.reshape(c.dot(cols, []int{1}, nil, w, []int{0}, nil), ySpatialDims...)
	case groupIn == 1 && groupOut == 1:
		// Depthwise: sum over kernel positions of patch * w[position, :].
		w := c.reshape(k, numPositions, channels)
		pShape := shapes.Make(inShape.DType, ySpatialDims...)
		for pos, patch := range patches {
			wPos := c.reshape(c.sliceAxis(w, 0, pos, pos+1), channels)
			term := c.mul(patch, c.bcast(wPos, pShape, n+1))
			if y == nil {
				y = term
			} else {
				y = c.add(y, term)
			}
		}
	default:
		// Grouped: [G, B·O, K·Cg] x [G, K·Cg, M] batched over G.
		cols := c.reshape(c.concat(n+1, patches...), numOut, numPositions, groups, groupIn)
		cols = c.reshape(c.transpose(cols, 2, 0, 1, 3), groups, numOut, numPositions*groupIn)
		w := c.reshape(k, numPositions, groupIn, groups, groupOut)
		w = c.reshape(c.transpose(w, 2, 0, 1, 3), groups, numPositions*groupIn, groupOut)
		yg := c.dot(cols, []int{2}, []int{0}, w, []int{1}, []int{0}) // [G, B·O, M]
		y = c.reshape(c.transpose(yg, 1, 0, 2), ySpatialDims...)
	}

	// [B, O..., Cout] to the requested output layout.
	outPerm := make([]int, n+2)
	outPerm[axes.OutputBatch] = 0
	for i, a := range axes.OutputSpatial {
		outPerm[a] = 1 + i
	}
	outPerm[axes.OutputChannels] = n + 1
	y = c.transpose(y, outPerm...)
	if c.err != nil {
		return nil, c.err
	}
	if got := c.shape(y); !got.Equal(outShape) {
		return nil, fmt.Errorf("%s backend: ConvGeneral: lowered result has shape %s, expected %s", BackendName, got, outShape)
	}
	return y, c.err
}

// onesIfUnset returns a copy of v with zeros replaced by ones, or n ones when v is empty.
func onesIfUnset(v []int, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
		if i < len(v) && v[i] > 0 {
			out[i] = v[i]
		}
	}
	return out
}

package purego

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Reverse reverses x along the given axes (built from unit slices and one concatenation per axis).
func (b *Builder) Reverse(x backends.Op, axes ...int) (backends.Op, error) {
	c := &chain{b: b.Builder, op: "Reverse"}
	s := c.shape(x)
	for _, axis := range axes {
		if c.err != nil {
			break
		}
		if axis < 0 || axis >= s.Rank() {
			return nil, fmt.Errorf("%s backend: Reverse: axis %d out of range for shape %s", BackendName, axis, s)
		}
		n := s.Dimensions[axis]
		if n <= 1 {
			continue
		}
		parts := make([]backends.Op, n)
		for i := range n {
			parts[n-1-i] = c.sliceAxis(x, axis, i, i+1)
		}
		x = c.concat(axis, parts...)
	}
	return x, c.err
}

// Pad pads x with fillValue: interior padding between elements, then start/end padding; negative start/end
// padding crops. Axes without a PadAxis are left alone.
func (b *Builder) Pad(x, fillValue backends.Op, axesConfig ...backends.PadAxis) (backends.Op, error) {
	c := &chain{b: b.Builder, op: "Pad"}
	s := c.shape(x)
	if c.err == nil && len(axesConfig) > s.Rank() {
		return nil, fmt.Errorf("%s backend: Pad: %d axes configured for a rank-%d operand %s", BackendName, len(axesConfig), s.Rank(), s)
	}
	out := c.pad(x, fillValue, axesConfig)
	return out, c.err
}

// SelectAndScatterMax is MaxPool's gradient: each window's source value goes to the (first) position of
// the window's maximum in operand; contributions of overlapping windows add up.
func (b *Builder) SelectAndScatterMax(operand, source backends.Op, windowDimensions, windowStrides []int, paddings [][2]int) (backends.Op, error) {
	return b.selectAndScatter("SelectAndScatterMax", true, operand, source, windowDimensions, windowStrides, paddings)
}

// SelectAndScatterMin is MinPool's gradient, see SelectAndScatterMax.
func (b *Builder) SelectAndScatterMin(operand, source backends.Op, windowDimensions, windowStrides []int, paddings [][2]int) (backends.Op, error) {
	return b.selectAndScatter("SelectAndScatterMin", false, operand, source, windowDimensions, windowStrides, paddings)
}

func (b *Builder) selectAndScatter(name string, isMax bool, operand, source backends.Op, windowDims, strides []int, paddings [][2]int) (backends.Op, error) {
	c := &chain{b: b.Builder, op: name}
	opShape, srcShape := c.shape(operand), c.shape(source)
	if c.err != nil {
		return nil, c.err
	}
	rank := opShape.Rank()
	if len(windowDims) != rank || srcShape.Rank() != rank {
		return nil, fmt.Errorf("%s backend: %s: operand %s, source %s and window %v must have the same rank", BackendName, name, opShape, srcShape, windowDims)
	}
	if strides == nil {
		strides = windowDims
	}
	if len(strides) != rank || (paddings != nil && len(paddings) != rank) {
		return nil, fmt.Errorf("%s backend: %s: strides %v / paddings %v do not match rank %d", BackendName, name, strides, paddings, rank)
	}
	edge := math.Inf(-1)
	if !isMax {
		edge = math.Inf(1)
	}
	padCfg := make([]backends.PadAxis, rank)
	paddedDims := append([]int(nil), opShape.Dimensions...)
	for i := range rank {
		if paddings != nil {
			padCfg[i] = backends.PadAxis{Start: paddings[i][0], End: paddings[i][1]}
			paddedDims[i] += paddings[i][0] + paddings[i][1]
		}
	}
	padded := c.pad(operand, c.scalar(opShape.DType, edge), padCfg)
	outDims := srcShape.Dimensions

	// One strided slice per window position: slices[k][o] = padded[o*stride + k].
	var positions [][]int
	forEachIndex(windowDims, func(p []int) { positions = append(positions, append([]int(nil), p...)) })
	slices := make([]backends.Op, len(positions))
	var best backends.Op
	for k, p := range positions {
		starts, limits := make([]int, rank), make([]int, rank)
		for i := range rank {
			starts[i] = p[i]
			limits[i] = p[i] + (outDims[i]-1)*strides[i] + 1
		}
		slices[k] = c.slice(padded, starts, limits, strides)
		switch {
		case k == 0:
			best = slices[k]
		case isMax:
			best = c.max(best, slices[k])
		default:
			best = c.min(best, slices[k])
		}
	}
	zeroSrc := c.fill(c.scalar(srcShape.DType, 0), srcShape)
	zero := c.scalar(srcShape.DType, 0)
	var taken, acc backends.Op
	for k, p := range positions {
		sel := c.equal(slices[k], best)
		if k == 0 {
			taken = sel
		} else {
			sel = c.and(sel, c.not(taken))
			taken = c.or(taken, sel)
		}
		contrib := c.where(sel, source, zeroSrc)
		scatter := make([]backends.PadAxis, rank)
		for i := range rank {
			last := p[i] + (outDims[i]-1)*strides[i]
			scatter[i] = backends.PadAxis{Start: p[i], Interior: strides[i] - 1, End: paddedDims[i] - 1 - last}
		}
		placed := c.pad(contrib, zero, scatter)
		if acc == nil {
			acc = placed
		} else {
			acc = c.add(acc, placed)
		}
	}
	crop := make([]backends.PadAxis, rank)
	for i := range rank {
		crop[i] = backends.PadAxis{Start: -padCfg[i].Start, End: -padCfg[i].End}
	}
	out := c.pad(acc, zero, crop)
	return out, c.err
}

// forEachIndex calls fn with every multi-index of dims, last axis fastest. The slice passed is reused.
func forEachIndex(dims []int, fn func(idx []int)) {
	for _, d := range dims {
		if d <= 0 {
			return
		}
	}
	idx := make([]int, len(dims))
	for {
		fn(idx)
		i := len(dims) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < dims[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

// batchNormAxes returns the axes reduced by batch normalization and the number of elements per feature.
func batchNormAxes(s shapes.Shape, featureAxis int) (axes []int, count int, err error) {
	if featureAxis < 0 || featureAxis >= s.Rank() {
		return nil, 0, fmt.Errorf("%s backend: batch norm: feature axis %d out of range for %s", BackendName, featureAxis, s)
	}
	count = 1
	for i, d := range s.Dimensions {
		if i != featureAxis {
			axes = append(axes, i)
			count *= d
		}
	}
	return axes, count, nil
}

// BatchNormForTraining normalizes operand with its own per-feature mean and (biased) variance, and returns
// them too.
func (b *Builder) BatchNormForTraining(operand, scale, offset backends.Op, epsilon float32, featureAxis int) (normalized, batchMean, batchVariance backends.Op, err error) {
	c := &chain{b: b.Builder, op: "BatchNormForTraining"}
	s := c.shape(operand)
	if c.err != nil {
		return nil, nil, nil, c.err
	}
	axes, count, err := batchNormAxes(s, featureAxis)
	if err != nil {
		return nil, nil, nil, err
	}
	invCount := c.scalar(s.DType, 1/float64(count))
	featShape := shapes.Make(s.DType, s.Dimensions[featureAxis])
	mean := c.mul(c.reduceSum(operand, axes...), c.fill(invCount, featShape))
	centered := c.sub(operand, c.bcast(mean, s, featureAxis))
	variance := c.mul(c.reduceSum(c.mul(centered, centered), axes...), c.fill(invCount, featShape))
	inv := c.rsqrt(c.add(variance, c.fill(c.scalar(s.DType, float64(epsilon)), featShape)))
	normalized = c.add(c.mul(centered, c.bcast(c.mul(inv, scale), s, featureAxis)), c.bcast(offset, s, featureAxis))
	return normalized, mean, variance, c.err
}

// BatchNormForInference normalizes operand with the given per-feature mean and variance.
func (b *Builder) BatchNormForInference(operand, scale, offset, mean, variance backends.Op, epsilon float32, featureAxis int) (backends.Op, error) {
	c := &chain{b: b.Builder, op: "BatchNormForInference"}
	s := c.shape(operand)
	if c.err != nil {
		return nil, c.err
	}
	if _, _, err := batchNormAxes(s, featureAxis); err != nil {
		return nil, err
	}
	featShape := shapes.Make(s.DType, s.Dimensions[featureAxis])
	inv := c.rsqrt(c.add(variance, c.fill(c.scalar(s.DType, float64(epsilon)), featShape)))
	mul := c.mul(inv, scale)
	add := c.sub(offset, c.mul(mean, mul))
	out := c.add(c.mul(operand, c.bcast(mul, s, featureAxis)), c.bcast(add, s, featureAxis))
	return out, c.err
}

// BatchNormGradient returns the gradients of batch normalization (training mode, where mean and variance
// depend on operand) with respect to operand, scale and offset.
func (b *Builder) BatchNormGradient(operand, scale, mean, variance, gradOutput backends.Op, epsilon float32, featureAxis int) (gradOperand, gradScale, gradOffset backends.Op, err error) {
	c := &chain{b: b.Builder, op: "BatchNormGradient"}
	s := c.shape(operand)
	if c.err != nil {
		return nil, nil, nil, c.err
	}
	axes, count, err := batchNormAxes(s, featureAxis)
	if err != nil {
		return nil, nil, nil, err
	}
	featShape := shapes.Make(s.DType, s.Dimensions[featureAxis])
	inv := c.rsqrt(c.add(variance, c.fill(c.scalar(s.DType, float64(epsilon)), featShape)))
	xhat := c.mul(c.sub(operand, c.bcast(mean, s, featureAxis)), c.bcast(inv, s, featureAxis))
	gradOffset = c.reduceSum(gradOutput, axes...)
	gradScale = c.reduceSum(c.mul(gradOutput, xhat), axes...)
	// gradX = scale*inv/N * (N*g - sum(g) - xhat*sum(g*xhat))
	n := c.scalar(s.DType, float64(count))
	factor := c.div(c.mul(scale, inv), c.fill(n, featShape))
	inner := c.sub(c.mul(gradOutput, c.fill(n, s)), c.bcast(gradOffset, s, featureAxis))
	inner = c.sub(inner, c.mul(xhat, c.bcast(gradScale, s, featureAxis)))
	gradOperand = c.mul(inner, c.bcast(factor, s, featureAxis))
	return gradOperand, gradScale, gradOffset, c.err
}

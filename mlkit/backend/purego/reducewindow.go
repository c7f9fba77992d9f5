package purego

import (
	"math"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// reduceWindowsSliced counts the ReduceWindow ops built from slices (for tests).
var reduceWindowsSliced atomic.Int64

// maxWindowSlices is the largest window (positions) ReduceWindow computes as slices.
const maxWindowSlices = 64

// ReduceWindow computes a float32 max, min or sum over windows without dilations (MaxPool, MinPool,
// SumPool) as the reduction of one strided slice per window position, after padding with the reduction's
// identity (-inf, +inf, 0): the chain of Max/Min/Add is fused into one pass (see fuse.go), where simplego
// walks every window with a per-element index iterator (a ninth of ResNet50's 224-px training step, in
// its stem's 3x3 max pool). Other cases are simplego's.
func (b *Builder) ReduceWindow(x backends.Op, reductionType backends.ReduceOpType, windowDimensions, strides, baseDilations, windowDilations []int,
	paddings [][2]int) (backends.Op, error) {
	if op, ok, err := b.reduceWindowAsSlices(x, reductionType, windowDimensions, strides, baseDilations, windowDilations, paddings); ok {
		return op, err
	}
	return b.Builder.ReduceWindow(x, reductionType, windowDimensions, strides, baseDilations, windowDilations, paddings)
}

// reduceWindowAsSlices builds ReduceWindow from slices; ok is false (nothing built) when the case is not
// one it handles.
func (b *Builder) reduceWindowAsSlices(x backends.Op, red backends.ReduceOpType, win, strides, baseDil, winDil []int,
	paddings [][2]int) (backends.Op, bool, error) {
	c := &chain{b: b.Builder, op: "ReduceWindow"}
	s := c.shape(x)
	rank := s.Rank()
	if c.err != nil || s.DType != dtypes.Float32 || len(win) != rank || rank == 0 {
		return nil, false, nil
	}
	var identity float64
	var combine func(x, y backends.Op) backends.Op
	switch red {
	case backends.ReduceOpMax:
		identity, combine = math.Inf(-1), func(x, y backends.Op) backends.Op { return c.binary("Max", b.Max, x, y) }
	case backends.ReduceOpMin:
		identity, combine = math.Inf(1), func(x, y backends.Op) backends.Op { return c.binary("Min", b.Min, x, y) }
	case backends.ReduceOpSum:
		identity, combine = 0, func(x, y backends.Op) backends.Op { return c.binary("Add", b.Add, x, y) }
	default:
		return nil, false, nil
	}
	for _, d := range [][]int{baseDil, winDil} {
		for _, v := range d {
			if v != 1 {
				return nil, false, nil
			}
		}
	}
	if strides == nil {
		strides = win
	}
	if len(strides) != rank || (paddings != nil && len(paddings) != rank) {
		return nil, false, nil
	}
	positions := 1
	for i, w := range win {
		if w < 1 || strides[i] < 1 {
			return nil, false, nil
		}
		positions *= w
	}
	if positions > maxWindowSlices {
		return nil, false, nil
	}
	padCfg := make([]backends.PadAxis, rank)
	padded := x
	outDims := make([]int, rank)
	anyPad := false
	for i := range rank {
		size := s.Dimensions[i]
		if paddings != nil {
			if paddings[i][0] < 0 || paddings[i][1] < 0 {
				return nil, false, nil
			}
			padCfg[i] = backends.PadAxis{Start: paddings[i][0], End: paddings[i][1]}
			size += paddings[i][0] + paddings[i][1]
			anyPad = anyPad || paddings[i] != [2]int{}
		}
		if size < win[i] {
			return nil, false, nil
		}
		outDims[i] = (size-win[i])/strides[i] + 1
	}
	if anyPad {
		padded = c.pad(x, c.scalar(s.DType, identity), padCfg)
	}
	var acc backends.Op
	forEachIndex(win, func(p []int) {
		starts, limits := make([]int, rank), make([]int, rank)
		for i := range rank {
			starts[i] = p[i]
			limits[i] = p[i] + (outDims[i]-1)*strides[i] + 1
		}
		sl := c.slice(padded, starts, limits, strides)
		if acc == nil {
			acc = sl
		} else {
			acc = combine(acc, sl)
		}
	})
	reduceWindowsSliced.Add(1)
	return acc, true, c.err
}

package purego

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// bcastRecord is a BroadcastInDim's source and axes mapping.
type bcastRecord struct {
	source backends.Op
	axes   []int
}

// minRewriteSize is the smallest Mul output (in elements) for which ReduceSum(Mul(...)) becomes a DotGeneral.
const minRewriteSize = 1 << 12

// Mul records its operands (see ReduceSum) and delegates to simplego.
func (b *Builder) Mul(lhs, rhs backends.Op) (backends.Op, error) {
	op, err := b.Builder.Mul(lhs, rhs)
	if err == nil {
		b.muls[op] = [2]backends.Op{lhs, rhs}
	}
	return op, err
}

// BroadcastInDim records its operand (see ReduceSum) and delegates to simplego.
func (b *Builder) BroadcastInDim(x backends.Op, outputShape shapes.Shape, broadcastAxes []int) (backends.Op, error) {
	op, err := b.Builder.BroadcastInDim(x, outputShape, broadcastAxes)
	if err == nil {
		b.bcasts[op] = bcastRecord{source: x, axes: slices.Clone(broadcastAxes)}
	}
	return op, err
}

// ReduceSum computes ReduceSum(Mul(x, y), axes), where x and y broadcast against each other, as one
// DotGeneral when that avoids materialising a large broadcast product: this is how GoMLX's graph builds
// the gradient of DotGeneral (a dense layer's weight gradient would otherwise be a batch×in×out tensor).
// Anything else is simplego's ReduceSum.
func (b *Builder) ReduceSum(x backends.Op, axes ...int) (backends.Op, error) {
	if op, ok := b.reduceSumAsDot(x, axes); ok {
		return op, nil
	}
	return b.Builder.ReduceSum(x, axes...)
}

// effective returns the data behind op and op's dimensions with broadcast axes set to 1, seeing through
// a BroadcastInDim. ok is false when it cannot be expressed as a reshape of the data.
func (b *Builder) effective(op backends.Op) (data backends.Op, dims []int, ok bool) {
	s, err := b.Builder.OpShape(op)
	if err != nil {
		return nil, nil, false
	}
	rec, isBcast := b.bcasts[op]
	if !isBcast {
		return op, slices.Clone(s.Dimensions), true
	}
	src, err := b.Builder.OpShape(rec.source)
	if err != nil || !slices.IsSorted(rec.axes) || len(rec.axes) != src.Rank() {
		return nil, nil, false
	}
	dims = make([]int, s.Rank())
	for i := range dims {
		dims[i] = 1
	}
	for i, a := range rec.axes {
		dims[a] = src.Dimensions[i]
		if src.Dimensions[i] != 1 && src.Dimensions[i] != s.Dimensions[a] {
			return nil, nil, false
		}
	}
	return rec.source, dims, true
}

func (b *Builder) reduceSumAsDot(x backends.Op, axes []int) (backends.Op, bool) {
	operands, isMul := b.muls[x]
	if !isMul || len(axes) == 0 {
		return nil, false
	}
	xs, err := b.Builder.OpShape(x)
	if err != nil || (xs.DType != dtypes.Float32 && xs.DType != dtypes.Float64) || xs.Size() < minRewriteSize {
		return nil, false
	}
	lData, lDims, ok1 := b.effective(operands[0])
	rData, rDims, ok2 := b.effective(operands[1])
	if !ok1 || !ok2 || len(lDims) != xs.Rank() || len(rDims) != xs.Rank() {
		return nil, false
	}
	reduced := make([]bool, xs.Rank())
	for _, a := range axes {
		if a < 0 || a >= xs.Rank() || reduced[a] {
			return nil, false
		}
		reduced[a] = true
	}
	// Classify every axis; positions are in the squeezed (size-1 axes dropped) operands.
	var lSq, rSq []int // squeezed dims
	var lContract, rContract, lBatch, rBatch []int
	type kept struct{ group, order int } // group 0 batch, 1 lhs cross, 2 rhs cross
	var outKept []struct {
		axis int
		k    kept
	}
	nBatch, nLCross, nRCross := 0, 0, 0
	hasCross := false
	for a := range xs.Rank() {
		dl, dr := lDims[a], rDims[a]
		switch {
		case dl > 1 && dr > 1:
			if dl != dr {
				return nil, false
			}
			lSq, rSq = append(lSq, dl), append(rSq, dr)
			if reduced[a] {
				lContract, rContract = append(lContract, len(lSq)-1), append(rContract, len(rSq)-1)
			} else {
				lBatch, rBatch = append(lBatch, len(lSq)-1), append(rBatch, len(rSq)-1)
				outKept = append(outKept, struct {
					axis int
					k    kept
				}{a, kept{0, nBatch}})
				nBatch++
			}
		case dl > 1:
			if reduced[a] {
				return nil, false // a sum over one operand only: leave it to simplego.
			}
			lSq = append(lSq, dl)
			outKept = append(outKept, struct {
				axis int
				k    kept
			}{a, kept{1, nLCross}})
			nLCross++
			hasCross = true
		case dr > 1:
			if reduced[a] {
				return nil, false
			}
			rSq = append(rSq, dr)
			outKept = append(outKept, struct {
				axis int
				k    kept
			}{a, kept{2, nRCross}})
			nRCross++
			hasCross = true
		}
	}
	if !hasCross || len(lContract) == 0 {
		return nil, false
	}
	c := &chain{b: b.Builder, op: "ReduceSum(Mul) as DotGeneral"}
	l := c.reshape(lData, lSq...)
	r := c.reshape(rData, rSq...)
	dot := c.dot(l, lContract, lBatch, r, rContract, rBatch) // [batch..., lhs cross..., rhs cross...]
	// Transpose to the original axis order of the kept axes, then reshape to ReduceSum's output dims.
	perm := make([]int, len(outKept))
	for i, k := range outKept {
		switch k.k.group {
		case 0:
			perm[i] = k.k.order
		case 1:
			perm[i] = nBatch + k.k.order
		default:
			perm[i] = nBatch + nLCross + k.k.order
		}
	}
	out := c.transpose(dot, perm...)
	var outDims []int
	for a := range xs.Rank() {
		if !reduced[a] {
			outDims = append(outDims, xs.Dimensions[a])
		}
	}
	out = c.reshape(out, outDims...)
	if c.err != nil {
		return nil, false
	}
	b.dotRewrites++
	return out, true
}

package purego

import (
	"unsafe"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

//go:linkname dotGeneralFlatToBlockDTypeMap github.com/gomlx/gomlx/backends/simplego.dotGeneralFlatToBlockDTypeMap
var dotGeneralFlatToBlockDTypeMap *simplego.DTypeMap

// flatToBlockFunc is the type of simplego's "copy a DotGeneral operand into blocks" functions.
type flatToBlockFunc = func(source, blkOutput *simplego.Buffer, contractingAxes, batchAxes []int,
	batchSize, crossSize, contractingSize, blkLog2Dim int)

// installFastPacking replaces simplego's float32 operand packing (a generic per-element loop that took as
// long as the multiplication itself once the SIMD kernel was in) with one that copies whole rows when the
// operand is laid out as [batch..., cross..., contracting...] or [batch..., contracting..., cross...], and
// calls simplego's otherwise. It changes nothing when simplego does not look as expected.
func installFastPacking() {
	if dotGeneralFlatToBlockDTypeMap == nil {
		return
	}
	orig, ok := dotGeneralFlatToBlockDTypeMap.Map[dtypes.Float32].(flatToBlockFunc)
	if !ok {
		return
	}
	var fast flatToBlockFunc = func(source, blkOutput *simplego.Buffer, contractingAxes, batchAxes []int,
		batchSize, crossSize, contractingSize, blkLog2Dim int) {
		if !packFloat32(source, blkOutput, contractingAxes, batchAxes, batchSize, crossSize, contractingSize, blkLog2Dim) {
			orig(source, blkOutput, contractingAxes, batchAxes, batchSize, crossSize, contractingSize, blkLog2Dim)
		}
	}
	dotGeneralFlatToBlockDTypeMap.Map[dtypes.Float32] = fast
}

// packFloat32 is the fast path of installFastPacking; it returns false when it does not apply.
// The blocked output is [batch, crossBlocks, contractBlocks, blkDim (cross), blkDim (contracting)], already
// zeroed by simplego.
func packFloat32(source, blkOutput *simplego.Buffer, contractingAxes, batchAxes []int,
	batchSize, crossSize, contractingSize, blkLog2Dim int) bool {
	src, dst := flatFloat32(source), flatFloat32(blkOutput)
	if src == nil || dst == nil || len(src) != batchSize*crossSize*contractingSize {
		return false
	}
	rank := (*bufferMirror)(unsafe.Pointer(source)).shape.Rank()
	// Batch axes must lead, in order; contracting axes must be consecutive and in order.
	for i, a := range batchAxes {
		if a != i {
			return false
		}
	}
	if len(contractingAxes) == 0 {
		return false
	}
	for i := 1; i < len(contractingAxes); i++ {
		if contractingAxes[i] != contractingAxes[i-1]+1 {
			return false
		}
	}
	first, last := contractingAxes[0], contractingAxes[len(contractingAxes)-1]
	var contractLast bool
	switch {
	case last == rank-1:
		contractLast = true
	case first == len(batchAxes):
		contractLast = false
	default:
		return false
	}
	blk := 1 << blkLog2Dim
	mask := blk - 1
	crossBlocks := (crossSize + blk - 1) / blk
	contractBlocks := (contractingSize + blk - 1) / blk
	if len(dst) < batchSize*crossBlocks*contractBlocks*blk*blk {
		return false
	}
	for b := range batchSize {
		s := src[b*crossSize*contractingSize : (b+1)*crossSize*contractingSize]
		d := dst[b*crossBlocks*contractBlocks*blk*blk:]
		if contractLast {
			// s is [cross][contracting]: copy runs of up to blk contracting values.
			for c := range crossSize {
				row := s[c*contractingSize : (c+1)*contractingSize]
				base := (c>>blkLog2Dim)*contractBlocks*blk*blk + (c&mask)*blk
				for kb := range contractBlocks {
					k0 := kb * blk
					copy(d[base+kb*blk*blk:base+kb*blk*blk+blk], row[k0:min(k0+blk, contractingSize)])
				}
			}
			continue
		}
		// s is [contracting][cross]: transpose into the blocks.
		for k := range contractingSize {
			row := s[k*crossSize : (k+1)*crossSize]
			kOff := (k>>blkLog2Dim)*blk*blk + (k & mask)
			for c, v := range row {
				d[(c>>blkLog2Dim)*contractBlocks*blk*blk+kOff+(c&mask)*blk] = v
			}
		}
	}
	return true
}

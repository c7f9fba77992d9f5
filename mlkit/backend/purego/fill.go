package purego

import (
	"math"
	_ "unsafe" // go:linkname

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

//go:linkname fillBufferDTypeMap github.com/gomlx/gomlx/backends/simplego.fillBufferDTypeMap
var fillBufferDTypeMap *simplego.DTypeMap

// fillFunc is the type of simplego's per-dtype Buffer.Fill implementations (a nil value means zero).
type fillFunc = func(b *simplego.Buffer, value any)

// installFastFill replaces simplego's float32 Buffer.Fill (a generic per-element loop; Buffer.Zeros of the
// three blocked buffers of every large matrix product took a fifth of a 1024x1024 product's time) with
// one that clears with the runtime's memclr for zero and fills by doubling copies otherwise. It changes
// nothing when simplego does not look as expected.
func installFastFill() bool {
	if fillBufferDTypeMap == nil {
		return false
	}
	orig, ok := fillBufferDTypeMap.Map[dtypes.Float32].(fillFunc)
	if !ok {
		return false
	}
	var fast fillFunc = func(b *simplego.Buffer, value any) {
		flat := flatFloat32(b)
		v, isF32 := value.(float32)
		if flat == nil || (value != nil && !isF32) {
			orig(b, value)
			return
		}
		fillFloat32(flat, v)
	}
	fillBufferDTypeMap.Map[dtypes.Float32] = fast
	return true
}

// fillFloat32 sets every element of flat to v.
func fillFloat32(flat []float32, v float32) {
	if v == 0 && !math.Signbit(float64(v)) {
		clear(flat)
		return
	}
	if len(flat) == 0 {
		return
	}
	flat[0] = v
	for n := 1; n < len(flat); n *= 2 {
		copy(flat[n:], flat[:n])
	}
}

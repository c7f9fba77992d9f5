package purego

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// TestFastFloat32Fill checks the float32 Buffer.Fill installed at init: zeros (nil), a value, negative zero
// and lengths that are not powers of two, on buffers that held other data.
func TestFastFloat32Fill(t *testing.T) {
	if !simdKernelInstalled {
		t.Skip("MLKIT_SIMD=0 or no SIMD kernel: simplego's own fill runs")
	}
	be := newTestBackend(t)
	negZero := float32(math.Copysign(0, -1))
	for _, n := range []int{1, 2, 7, 64, 1000, 4099} {
		for _, value := range []any{nil, float32(2.5), negZero, float32(0)} {
			data := make([]float32, n)
			for i := range data {
				data[i] = float32(i) + 1
			}
			buf, err := be.BufferFromFlatData(0, data, shapes.Make(dtypes.Float32, n))
			if err != nil {
				t.Fatal(err)
			}
			sb := buf.(*simplego.Buffer)
			if err := sb.Fill(value); err != nil {
				t.Fatalf("n=%d Fill(%v): %v", n, value, err)
			}
			want := float32(0)
			if value != nil {
				want = value.(float32)
			}
			got := flatFloat32(sb)
			for i, g := range got {
				if g != want || math.Signbit(float64(g)) != math.Signbit(float64(want)) {
					t.Fatalf("n=%d Fill(%v): element %d is %g", n, value, i, g)
				}
			}
		}
	}
}

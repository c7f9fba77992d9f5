package purego

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestLogisticRow compares logisticRow (the AVX loop when this CPU has it) with the float64 logistic
// function: every result within one float32 ulp of the exact value, almost all equal to simplego's
// per-element formula bit for bit, NaN for NaN, on lengths that leave every tail size, with zeros,
// infinities, subnormals and values where exp under- and overflows.
func TestLogisticRow(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, 88, -88, 104, -104, 110, -110, 709, -709, 760, -760,
		3e38, -3e38, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-8, -1e-8, 0.5, -0.5}
	var xs []float32
	xs = append(xs, special...)
	for range 100000 {
		xs = append(xs, float32(r.NormFloat64()*8))
	}
	xs = append(xs, float32(math.NaN()))
	differ := 0
	for _, n := range []int{len(xs), 1, 2, 3, 5, 7} {
		x := xs[len(xs)-n:]
		out := make([]float32, n)
		logisticRow(out, x)
		for i, v := range x {
			got, want := out[i], logistic64(v)
			if v != v {
				if got == got {
					t.Fatalf("logistic(NaN) = %v", got)
				}
				continue
			}
			exact := 1 / (1 + math.Exp(-float64(v)))
			ulp := float64(math.Nextafter32(float32(exact), float32(math.Inf(1))) - float32(exact))
			if math.Abs(float64(got)-exact) > ulp+1e-45 {
				t.Fatalf("logistic(%v) = %v, exact %v (more than an ulp off)", v, got, exact)
			}
			if got != want {
				differ++
			}
		}
	}
	if differ > len(xs)/10000 {
		t.Errorf("%d of %d results differ from the per-element formula in the last bit", differ, len(xs))
	}
}

// TestLogisticOpUsesLogisticRow: the backend's Logistic op (small operands, and large ones split over
// the cores) gives logisticRow's results bit for bit, so that fused and unfused sigmoids agree.
func TestLogisticOpUsesLogisticRow(t *testing.T) {
	if !fastLogisticInstalled {
		t.Fatal("installFastLogistic did not find simplego's Logistic executor")
	}
	be := newTestBackend(t)
	r := rand.New(rand.NewPCG(63, 64))
	for _, dims := range [][]int{{3, 5}, {4, 64, 64, 8}} {
		x := randomTensor(r, dims)
		for _, scale := range []float64{1, 3} { // 1: the Logistic op alone; 3: fused after a multiplication
			xf := tensors.MustCopyFlatData[float32](x)
			got := tensors.MustCopyFlatData[float32](MustExecOnce(be, func(x *Node) *Node {
				if scale != 1 {
					x = MulScalar(x, scale)
				}
				return Logistic(x)
			}, x))
			for i := range xf {
				xf[i] = float32(float64(xf[i]) * scale)
			}
			want := make([]float32, len(xf))
			logisticRow(want, xf)
			if i, ok := sameBits(got, want); !ok {
				t.Fatalf("%v scale %g: Logistic %v, logisticRow %v at %d", dims, scale, got[i], want[i], i)
			}
		}
	}
}

package purego

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSIMDRowsMatchGo compares the AVX row loops (rowVV, rowVS, rowSV for Add, Sub, Mul and Div, and
// the fused Sqrt and Sign) with the Go loops bit for bit, on lengths around the 8- and 32-element steps, in place
// (out aliasing an operand) and not, with zeros, negatives (NaN square roots), infinities and subnormals.
func TestSIMDRowsMatchGo(t *testing.T) {
	if !simdRows {
		t.Skip("no AVX row loops on this CPU (or MLKIT_SIMD=0): nothing to compare")
	}
	r := rand.New(rand.NewPCG(11, 12))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, float32(math.Inf(1)), float32(math.Inf(-1)), 3e38, -2.5}
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			if r.IntN(8) == 0 {
				v[i] = special[r.IntN(len(special))]
			} else {
				v[i] = float32(r.NormFloat64() * 10)
			}
		}
		return v
	}
	goOnly := func(fn func()) {
		simdRows = false
		defer func() { simdRows = true }()
		fn()
	}
	check := func(name string, n int, got, want []float32) {
		t.Helper()
		if i, ok := sameBits(got, want); !ok {
			t.Fatalf("%s, n=%d: element %d: AVX %v (%#x), Go %v (%#x)", name, n, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
	for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 63, 64, 100, 1027} {
		a, b := vec(n), vec(n)
		s := float32(r.NormFloat64())
		for op := opAdd; op <= opDiv; op++ {
			want, got := make([]float32, n), make([]float32, n)
			goOnly(func() { rowVV(op, want, a, b) })
			rowVV(op, got, a, b)
			check("rowVV", n, got, want)
			goOnly(func() { rowVS(op, want, a, s) })
			rowVS(op, got, a, s)
			check("rowVS", n, got, want)
			goOnly(func() { rowSV(op, want, s, b) })
			rowSV(op, got, s, b)
			check("rowSV", n, got, want)
			inPlace := append([]float32(nil), a...)
			goOnly(func() { rowVV(op, want, a, b) })
			rowVV(op, inPlace, inPlace, b)
			check("rowVV in place", n, inPlace, want)
		}
		for _, op := range []fusedOp{fSqrt, fSign} {
			want, got := make([]float32, n), make([]float32, n)
			a := append(vec(n), float32(math.NaN()))[1:] // a NaN at the end, in the AVX part from n = 8 on
			goOnly(func() { unaryRow(op, want, a) })
			unaryRow(op, got, a)
			check(fmt.Sprintf("unary %d", op), n, got, want)
		}
	}
}

// TestTransposeMatrix checks transposeMatrix (whole 8x8 tiles in AVX, ragged edges in Go, large matrices
// split over the cores) element by element.
func TestTransposeMatrix(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, d := range [][2]int{{1, 1}, {8, 8}, {3, 17}, {16, 24}, {13, 9}, {257, 300}, {64, 1030}} {
		rows, cols := d[0], d[1]
		x := make([]float32, rows*cols)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		got := transposeMatrix(x, rows, cols)
		for i := range rows {
			for j := range cols {
				if got[j*rows+i] != x[i*cols+j] {
					t.Fatalf("%dx%d: out[%d][%d] = %v, want %v", rows, cols, j, i, got[j*rows+i], x[i*cols+j])
				}
			}
		}
	}
}

package vecmath

import (
	"math"
	"testing"
)

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// Normalize gives unit length and keeps the direction; a zero vector stays zero instead of becoming NaN.
func TestNormalizeUnitLengthAndZero(t *testing.T) {
	v := []float32{3, 4}
	Normalize(v)
	if math.Abs(float64(v[0])-0.6) > 1e-6 || math.Abs(float64(v[1])-0.8) > 1e-6 {
		t.Fatalf("Normalize([3 4]) = %v, want [0.6 0.8]", v)
	}
	z := []float32{0, 0, 0}
	Normalize(z)
	for _, x := range z {
		if x != 0 {
			t.Fatalf("Normalize(zero) = %v, want zeros", z)
		}
	}
	// Large components: squares summed in float32 would overflow to +Inf and give zeros.
	big := []float32{3e20, 4e20}
	Normalize(big)
	if math.Abs(norm(big)-1) > 1e-6 {
		t.Fatalf("Normalize(big) has length %g, want 1", norm(big))
	}
	rows := NormalizeRows([][]float32{{1, 1}, {0, 2}, {0, 0}})
	if math.Abs(norm(rows[0])-1) > 1e-6 || rows[1][1] != 1 || rows[2][0] != 0 {
		t.Fatalf("NormalizeRows = %v", rows)
	}
}

func TestArgmaxFirstOnTies(t *testing.T) {
	for _, c := range []struct {
		row  []float32
		want int
	}{{nil, 0}, {[]float32{1}, 0}, {[]float32{0.1, 0.7, 0.2}, 1}, {[]float32{0.5, 0.5}, 0}, {[]float32{-3, -1, -2}, 1}} {
		if got := Argmax(c.row); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.row, got, c.want)
		}
	}
}

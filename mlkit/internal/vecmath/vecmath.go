// Package vecmath holds the small vector arithmetic that embedders, search and evaluation share, so that
// "unit length" means one computation everywhere.
package vecmath

import "math"

// Normalize scales v in place to unit Euclidean (L2) length, summing squares in float64; a zero vector
// stays zero.
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// NormalizeRows normalises every row in place (see Normalize) and returns rows.
func NormalizeRows(rows [][]float32) [][]float32 {
	for _, r := range rows {
		Normalize(r)
	}
	return rows
}

// Argmax returns the index of the largest value of row (the first one on ties; 0 for an empty row).
func Argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}

// Package phash computes perceptual hashes of images: 64-bit fingerprints that stay close (in Hamming
// distance) when an image is resized, re-encoded, lightly cropped, brightened or rotated, and differ
// between different photos. Embedding similarity alone does not separate the two: a resized or
// re-encoded copy of a photo can score lower than two different photos of one species.
package phash

import (
	"image"
	"math"
	"math/bits"
	"sort"

	"github.com/disintegration/imaging"
)

// side is the size of the grey image the DCT is taken of; the hash keeps its lowest 8x8 frequencies.
const side = 32

// Hash is a 64-bit perceptual hash.
type Hash uint64

// Distance is the number of bits in which a and b differ (0 to 64).
func Distance(a, b Hash) int { return bits.OnesCount64(uint64(a) ^ uint64(b)) }

// Pair is an image's hash and the hash of its mirror image (flipped left to right): a mirrored copy
// of a photo has a different hash, but its hash is close to the original's mirror hash.
type Pair struct {
	Hash, Mirror Hash
}

// Distance is the smaller distance between a and b, directly or with one of them mirrored.
func (a Pair) Distance(b Pair) int { return min(Distance(a.Hash, b.Hash), Distance(a.Hash, b.Mirror)) }

// Of returns the pHash of img and of its mirror image.
func Of(img image.Image) Pair {
	grey := imaging.Resize(imaging.Grayscale(img), side, side, imaging.Box)
	return Pair{Hash: hashGrey(grey), Mirror: hashGrey(imaging.FlipH(grey))}
}

// hashGrey is the pHash of a side x side grey image: a 2-D DCT-II of the pixels, then one bit per
// coefficient of the 8x8 lowest frequencies (the DC term included in the grid, not in the median), set
// when the coefficient is above the median of the 63 others.
func hashGrey(g *image.NRGBA) Hash {
	var px [side][side]float64
	for y := range side {
		for x := range side {
			px[y][x] = float64(g.Pix[y*g.Stride+4*x])
		}
	}
	// Separable DCT: rows, then columns, keeping the first 8 frequencies of each.
	var rows [side][8]float64
	for y := range side {
		for u := range 8 {
			s := 0.0
			for x := range side {
				s += px[y][x] * cosTable[u][x]
			}
			rows[y][u] = s
		}
	}
	var coef [64]float64
	for v := range 8 {
		for u := range 8 {
			s := 0.0
			for y := range side {
				s += rows[y][u] * cosTable[v][y]
			}
			coef[v*8+u] = s
		}
	}
	ac := append([]float64(nil), coef[1:]...)
	sort.Float64s(ac)
	median := ac[len(ac)/2]
	var h Hash
	for i, c := range coef {
		if i > 0 && c > median {
			h |= 1 << uint(i)
		}
	}
	return h
}

// cosTable[u][x] is cos((2x+1)uπ / 2·side), the DCT-II basis.
var cosTable = func() (t [8][side]float64) {
	for u := range 8 {
		for x := range side {
			t[u][x] = math.Cos(float64(2*x+1) * float64(u) * math.Pi / (2 * side))
		}
	}
	return t
}()

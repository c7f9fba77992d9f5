package phash

import (
	"image"
	"image/color"
	"math"
	"math/rand"
	"testing"

	"github.com/disintegration/imaging"
)

// scene is a synthetic photo: a dozen soft blobs of random place, size and shade on a grey ground (no
// clipping, not symmetric left to right), drawn by seed.
func scene(seed int64) image.Image {
	r := rand.New(rand.NewSource(seed))
	type blob struct{ x, y, s, v float64 }
	var blobs []blob
	for range 12 {
		blobs = append(blobs, blob{r.Float64() * 240, r.Float64() * 160, 10 + r.Float64()*30, r.Float64()*120 - 60})
	}
	img := image.NewNRGBA(image.Rect(0, 0, 240, 160))
	for y := range 160 {
		for x := range 240 {
			v := 120.0
			for _, b := range blobs {
				dx, dy := float64(x)-b.x, float64(y)-b.y
				v += b.v * math.Exp(-(dx*dx+dy*dy)/(2*b.s*b.s))
			}
			g := uint8(math.Max(20, math.Min(220, v)))
			img.Set(x, y, color.NRGBA{g, g, g, 255})
		}
	}
	return img
}

// TestHashSurvivesCopiesAndSeparatesImages: resized, brightened, re-encoded-like (blurred) and mirrored
// copies stay within a few bits of the original (mirrors through Pair's mirror hash); different images
// are far apart; Distance is symmetric in the bits it counts.
func TestHashSurvivesCopiesAndSeparatesImages(t *testing.T) {
	orig := scene(1)
	h := Of(orig)
	for name, m := range map[string]image.Image{
		"half size":  imaging.Resize(orig, 120, 0, imaging.Lanczos),
		"brightness": imaging.AdjustBrightness(orig, 15),
		"blur":       imaging.Blur(orig, 0.8),
		"mirror":     imaging.FlipH(orig),
	} {
		if d := h.Distance(Of(m)); d > 6 {
			t.Errorf("%s copy: distance %d, want <= 6", name, d)
		}
	}
	if d := Distance(h.Hash, Of(imaging.FlipH(orig)).Hash); d < 10 {
		t.Errorf("a mirror image's plain hash is %d bits away: too close for the mirror hash to matter", d)
	}
	for seed := int64(2); seed < 6; seed++ {
		if d := h.Distance(Of(scene(seed))); d < 16 {
			t.Errorf("scene %d: distance %d to scene 1, want >= 16", seed, d)
		}
	}
	if Distance(0, 0) != 0 || Distance(0, ^Hash(0)) != 64 || Distance(0b1011, 0b0001) != 2 {
		t.Error("Distance counts differing bits")
	}
}

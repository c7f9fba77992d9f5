package pipeline

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// AugmentOptions configure training-time augmentation. The zero value disables everything.
type AugmentOptions struct {
	// ScaleMin, ScaleMax bound the random resized crop's area as a fraction of the image (0.35..1); both 0
	// disables cropping.
	ScaleMin float64 `json:"scale_min"`
	ScaleMax float64 `json:"scale_max"`
	// RatioMin, RatioMax bound the crop's aspect ratio (3/4..4/3), sampled log-uniformly.
	RatioMin float64 `json:"ratio_min"`
	RatioMax float64 `json:"ratio_max"`
	// Flip mirrors half of the images horizontally.
	Flip bool `json:"flip"`
	// Brightness, Contrast, Saturation jitter: each factor is uniform in [1-x, 1+x].
	Brightness float64 `json:"brightness"`
	Contrast   float64 `json:"contrast"`
	Saturation float64 `json:"saturation"`
}

// DefaultAugment is the tutorial's augmentation: random resized crop (scale 0.35..1, ratio 3/4..4/3),
// horizontal flip, and ±10% brightness, contrast and saturation jitter.
func DefaultAugment() AugmentOptions {
	return AugmentOptions{ScaleMin: 0.35, ScaleMax: 1, RatioMin: 3.0 / 4, RatioMax: 4.0 / 3, Flip: true,
		Brightness: 0.1, Contrast: 0.1, Saturation: 0.1}
}

// Validate checks the ranges.
func (o AugmentOptions) Validate() error {
	if o.ScaleMin != 0 || o.ScaleMax != 0 {
		if o.ScaleMin <= 0 || o.ScaleMax > 1 || o.ScaleMin > o.ScaleMax {
			return fmt.Errorf("augmentation crop scale [%v, %v] must satisfy 0 < min <= max <= 1", o.ScaleMin, o.ScaleMax)
		}
		if o.RatioMin <= 0 || o.RatioMin > o.RatioMax {
			return fmt.Errorf("augmentation crop ratio [%v, %v] must satisfy 0 < min <= max", o.RatioMin, o.RatioMax)
		}
	}
	for _, j := range []float64{o.Brightness, o.Contrast, o.Saturation} {
		if j < 0 || j >= 1 {
			return fmt.Errorf("colour jitter %v out of range [0, 1)", j)
		}
	}
	return nil
}

// Enabled says whether the options change images at all.
func (o AugmentOptions) Enabled() bool {
	return o.ScaleMin > 0 || o.Flip || o.Brightness > 0 || o.Contrast > 0 || o.Saturation > 0
}

// Rand returns the random source for augmenting example index of epoch in a run with seed: the same
// triple always gives the same augmentation, whatever happened before (so resumed runs are exact).
func Rand(seed int64, epoch, index int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)^0x5DEECE66D, uint64(epoch)<<32|uint64(uint32(index))))
}

// Augment writes an augmented copy of src (size x size RGB) into dst (same size), drawing from r.
func Augment(dst, src []uint8, size int, o AugmentOptions, r *rand.Rand) {
	// Random resized crop: choose a box in src, resample to size x size (bilinear).
	x0, y0, cw, ch := 0.0, 0.0, float64(size), float64(size)
	if o.ScaleMin > 0 {
		area := float64(size * size)
		for range 10 {
			a := area * (o.ScaleMin + r.Float64()*(o.ScaleMax-o.ScaleMin))
			logR := math.Log(o.RatioMin) + r.Float64()*(math.Log(o.RatioMax)-math.Log(o.RatioMin))
			ratio := math.Exp(logR)
			w, h := math.Sqrt(a*ratio), math.Sqrt(a/ratio)
			if w <= float64(size) && h <= float64(size) {
				cw, ch = w, h
				x0 = r.Float64() * (float64(size) - w)
				y0 = r.Float64() * (float64(size) - h)
				break
			}
		}
	}
	flip := o.Flip && r.IntN(2) == 1
	bright, contrast, sat := 1.0, 1.0, 1.0
	if o.Brightness > 0 {
		bright = 1 + (2*r.Float64()-1)*o.Brightness
	}
	if o.Contrast > 0 {
		contrast = 1 + (2*r.Float64()-1)*o.Contrast
	}
	if o.Saturation > 0 {
		sat = 1 + (2*r.Float64()-1)*o.Saturation
	}
	buf := make([]float64, size*size*3)
	sx, sy := cw/float64(size), ch/float64(size)
	var meanGray float64
	for y := range size {
		fy := y0 + (float64(y)+0.5)*sy - 0.5
		iy := int(math.Floor(fy))
		wy := fy - float64(iy)
		y1, y2 := clampInt(iy, size), clampInt(iy+1, size)
		for x := range size {
			xx := x
			if flip {
				xx = size - 1 - x
			}
			fx := x0 + (float64(xx)+0.5)*sx - 0.5
			ix := int(math.Floor(fx))
			wx := fx - float64(ix)
			x1, x2 := clampInt(ix, size), clampInt(ix+1, size)
			o := (y*size + x) * 3
			for c := range 3 {
				p11 := float64(src[(y1*size+x1)*3+c])
				p12 := float64(src[(y1*size+x2)*3+c])
				p21 := float64(src[(y2*size+x1)*3+c])
				p22 := float64(src[(y2*size+x2)*3+c])
				v := (p11*(1-wx)+p12*wx)*(1-wy) + (p21*(1-wx)+p22*wx)*wy
				buf[o+c] = v * bright
			}
			meanGray += gray(buf[o:])
		}
	}
	meanGray /= float64(size * size)
	for i := 0; i < len(buf); i += 3 {
		px := buf[i : i+3]
		if sat != 1 {
			gr := gray(px)
			for c := range 3 {
				px[c] = gr + (px[c]-gr)*sat
			}
		}
		for c := range 3 {
			v := px[c]
			if contrast != 1 {
				v = meanGray + (v-meanGray)*contrast
			}
			dst[i+c] = uint8(math.Round(math.Min(255, math.Max(0, v))))
		}
	}
}

func gray(px []float64) float64 { return 0.299*px[0] + 0.587*px[1] + 0.114*px[2] }

func clampInt(v, size int) int { return max(0, min(size-1, v)) }

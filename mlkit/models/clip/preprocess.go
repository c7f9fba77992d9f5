package clip

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// RGB8 is an 8-bit RGB image, row-major, 3 bytes per pixel.
type RGB8 struct {
	// Pix holds the pixels, R,G,B per pixel, row after row.
	Pix []uint8
	// Width and Height are the image size in pixels.
	Width, Height int
}

// ToRGB8 converts any image to 8-bit RGB the way PIL's convert("RGB") does: colors are taken
// un-premultiplied and alpha is dropped.
func ToRGB8(img image.Image) RGB8 {
	b := img.Bounds()
	out := RGB8{Pix: make([]uint8, 3*b.Dx()*b.Dy()), Width: b.Dx(), Height: b.Dy()}
	i := 0
	switch src := img.(type) {
	case *image.RGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(src.RGBAAt(x, y)).(color.NRGBA)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = c.R, c.G, c.B
				i += 3
			}
		}
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			o := src.PixOffset(b.Min.X, y)
			for x := 0; x < b.Dx(); x++ {
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = src.Pix[o+4*x], src.Pix[o+4*x+1], src.Pix[o+4*x+2]
				i += 3
			}
		}
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := src.YCbCrAt(x, y)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				i += 3
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = c.R, c.G, c.B
				i += 3
			}
		}
	}
	return out
}

// Pillow's fixed-point precision for 8-bit resampling (libImaging/Resample.c).
const precisionBits = 32 - 8 - 2

func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return ((a+2)*x-(a+3))*x*x + 1
	}
	if x < 2 {
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

// resampleCoeffs is Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bicubic filter.
func resampleCoeffs(inSize, outSize int) (bounds []int, kk []int32, ksize int) {
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := 2 * filterscale
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int, 2*outSize)
	kk = make([]int32, outSize*ksize)
	pre := make([]float64, ksize)
	for xx := range outSize {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := range xmax {
			w := bicubic((float64(x+xmin) - center + 0.5) * ss)
			pre[x] = w
			ww += w
		}
		for x := range xmax {
			if ww != 0 {
				pre[x] /= ww
			}
		}
		for x := range xmax {
			v := pre[x] * float64(int64(1)<<precisionBits)
			if pre[x] < 0 {
				kk[xx*ksize+x] = int32(-0.5 + v)
			} else {
				kk[xx*ksize+x] = int32(0.5 + v)
			}
		}
		bounds[2*xx], bounds[2*xx+1] = xmin, xmax
	}
	return bounds, kk, ksize
}

func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ResizeBicubic resizes like Pillow's Image.resize(size, Image.BICUBIC) on an RGB image: separable
// antialiased bicubic (a = -0.5), horizontal pass then vertical, 8-bit fixed-point with rounding to
// uint8 after each pass. Results are bit-identical to Pillow's.
func ResizeBicubic(src RGB8, width, height int) RGB8 {
	if width == src.Width && height == src.Height {
		return RGB8{Pix: append([]uint8(nil), src.Pix...), Width: width, Height: height}
	}
	cur := src
	hb, hk, hks := resampleCoeffs(src.Width, width)
	vb, vk, vks := resampleCoeffs(src.Height, height)
	if width != src.Width {
		// Only the rows the vertical pass reads are computed (Pillow's ybox_first/ybox_last).
		yFirst, yLast := 0, src.Height
		if height != src.Height {
			yFirst = vb[0]
			yLast = vb[2*height-2] + vb[2*height-1]
			for i := range height {
				vb[2*i] -= yFirst
			}
		}
		tmp := RGB8{Pix: make([]uint8, 3*width*(yLast-yFirst)), Width: width, Height: yLast - yFirst}
		for y := range tmp.Height {
			row := src.Pix[3*src.Width*(y+yFirst):]
			for xx := range width {
				xmin, xmax := hb[2*xx], hb[2*xx+1]
				k := hk[xx*hks:]
				s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
				for x := range xmax {
					p := row[3*(x+xmin):]
					s0 += int32(p[0]) * k[x]
					s1 += int32(p[1]) * k[x]
					s2 += int32(p[2]) * k[x]
				}
				o := 3 * (y*width + xx)
				tmp.Pix[o], tmp.Pix[o+1], tmp.Pix[o+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
		cur = tmp
	}
	if height == src.Height {
		return cur
	}
	out := RGB8{Pix: make([]uint8, 3*width*height), Width: width, Height: height}
	for yy := range height {
		ymin, ymax := vb[2*yy], vb[2*yy+1]
		k := vk[yy*vks:]
		for xx := range width {
			s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
			for y := range ymax {
				p := cur.Pix[3*((y+ymin)*width+xx):]
				s0 += int32(p[0]) * k[y]
				s1 += int32(p[1]) * k[y]
				s2 += int32(p[2]) * k[y]
			}
			o := 3 * (yy*width + xx)
			out.Pix[o], out.Pix[o+1], out.Pix[o+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
	return out
}

// ResizeShortestEdge returns the output size of transformers' get_resize_output_image_size with
// default_to_square=False: the short side becomes size, the long side int(size*long/short).
func ResizeShortestEdge(width, height, size int) (w, h int) {
	if width <= height {
		return size, int(float64(size*height) / float64(width))
	}
	return int(float64(size*width) / float64(height)), size
}

// CenterCrop cuts a width x height window from the center (offsets rounded down, as transformers'
// center_crop). Parts of the window outside the image are zero, as transformers pads them.
func CenterCrop(src RGB8, width, height int) RGB8 {
	top := floorDiv(src.Height-height, 2)
	left := floorDiv(src.Width-width, 2)
	out := RGB8{Pix: make([]uint8, 3*width*height), Width: width, Height: height}
	for y := range height {
		sy := y + top
		if sy < 0 || sy >= src.Height {
			continue
		}
		for x := range width {
			sx := x + left
			if sx < 0 || sx >= src.Width {
				continue
			}
			copy(out.Pix[3*(y*width+x):3*(y*width+x)+3], src.Pix[3*(sy*src.Width+sx):])
		}
	}
	return out
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Preprocess is CLIPImageProcessor: convert to RGB, resize the shortest side to ShortestEdge
// (Pillow-exact bicubic), center-crop, rescale and normalise. It returns float32 pixels channels-last,
// [CropHeight][CropWidth][3] flattened.
func (pc PreprocessConfig) Preprocess(img image.Image) ([]float32, error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("clip: preprocess: empty image (%dx%d)", b.Dx(), b.Dy())
	}
	rgb := ToRGB8(img)
	w, h := ResizeShortestEdge(rgb.Width, rgb.Height, pc.ShortestEdge)
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("clip: preprocess: a %dx%d image cannot be resized to shortest edge %d", rgb.Width, rgb.Height, pc.ShortestEdge)
	}
	rgb = CenterCrop(ResizeBicubic(rgb, w, h), pc.CropWidth, pc.CropHeight)
	return pc.Normalize(rgb), nil
}

// Normalize rescales and normalises 8-bit pixels exactly as transformers does: float32(v*factor) in
// float64, then (x - mean) / std in float32. The result is channels-last.
func (pc PreprocessConfig) Normalize(rgb RGB8) []float32 {
	out := make([]float32, len(rgb.Pix))
	var lut [3][256]float32
	for c := range 3 {
		for v := range 256 {
			x := float32(float64(v) * pc.RescaleFactor)
			lut[c][v] = (x - pc.Mean[c]) / pc.Std[c]
		}
	}
	for i, v := range rgb.Pix {
		out[i] = lut[i%3][v]
	}
	return out
}

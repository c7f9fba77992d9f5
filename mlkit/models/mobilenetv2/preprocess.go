package mobilenetv2

import (
	"fmt"
	"image"

	"github.com/disintegration/imaging"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/visionnb/visionnb/mlkit/models"
)

// DefaultSize is the input resolution of the published weights (and of Teachable Machine).
const DefaultSize = 224

// CenterCrop returns the largest centred square of img resized to size x size, as Teachable Machine's
// image model does (crop the shorter side's square from the centre, then resize; equivalent to Keras'
// resize-shortest-side + centre-crop for a square target). Resampling is bilinear with antialiasing.
func CenterCrop(img image.Image, size int) *image.NRGBA {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	sq := imaging.CropCenter(img, side, side)
	if side == size {
		return sq
	}
	return imaging.Resize(sq, size, size, imaging.Linear)
}

// ScalePixel maps an 8-bit channel value to [-1, 1] exactly as Keras' mobilenet_v2.preprocess_input
// (v/127.5 - 1, computed in float32).
func ScalePixel(v uint8) float32 { return float32(v)/127.5 - 1 }

// RGBToInput converts an image of exactly size x size pixels into [size*size*3] float32 values in [-1, 1],
// row-major, channels last (RGB; alpha is ignored).
func RGBToInput(img *image.NRGBA, dst []float32) {
	b := img.Bounds()
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[(y-b.Min.Y)*img.Stride:]
		for x := 0; x < b.Dx(); x++ {
			dst[i] = ScalePixel(row[4*x])
			dst[i+1] = ScalePixel(row[4*x+1])
			dst[i+2] = ScalePixel(row[4*x+2])
			i += 3
		}
	}
}

// Preprocess maps RGB images with values in [0, 1], [batch, h, w, 3], to the [-1, 1] input the Keras
// weights expect: models.Normalize with models.NormMinusOneOne. (The embedder scales 8-bit pixels in Go
// instead, with ScalePixel, exactly as Keras' preprocess_input does.)
func Preprocess(images *graph.Node) *graph.Node {
	return models.Normalize(images, models.NormMinusOneOne)
}

// PreprocessImage centre-crops and resizes img to size x size and returns its pixels scaled to [-1, 1],
// [size*size*3] channels last: the input Build expects for one image.
func PreprocessImage(img image.Image, size int) []float32 {
	dst := make([]float32, size*size*3)
	RGBToInput(CenterCrop(img, size), dst)
	return dst
}

// PreprocessBatch preprocesses imgs into one float32 tensor [len(imgs), size, size, 3]. The batch may be
// padded with zero images up to padTo (0 = no padding), so every batch has the same shape and the
// compiled graph is reused.
func PreprocessBatch(imgs []image.Image, size, padTo int) (*tensors.Tensor, error) {
	n := max(len(imgs), padTo)
	if n == 0 {
		return nil, fmt.Errorf("mobilenetv2: PreprocessBatch: no images")
	}
	per := size * size * 3
	data := make([]float32, n*per)
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			return nil, fmt.Errorf("mobilenetv2: PreprocessBatch: image %d is empty", i)
		}
		RGBToInput(CenterCrop(img, size), data[i*per:(i+1)*per])
	}
	return tensors.FromFlatDataAndDimensions(data, n, size, size, 3), nil
}

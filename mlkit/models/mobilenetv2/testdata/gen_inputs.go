//go:build ignore

// gen_inputs writes inputs.u8: the four 224x224 RGB images (uint8, [4,224,224,3]) fed to both the GoMLX
// MobileNetV2 and the TensorFlow.js reference (gen_reference.js). Two are synthetic and deterministic, two
// are real photos from ../shared/data/animals5, centre-cropped and resized by mobilenetv2.CenterCrop.
// Both sides then scale with v/127.5-1 in float32, so they see bit-identical inputs.
//
// Run from the repository root: go run ./mlkit/models/mobilenetv2/testdata/gen_inputs.go
package main

import (
	"image"
	"image/color"
	"log"
	"os"
	"path/filepath"

	"github.com/disintegration/imaging"

	"github.com/visionnb/visionnb/mlkit/assets"
	"github.com/visionnb/visionnb/mlkit/models/mobilenetv2"
)

// Photos are the real images used (paths inside data/animals5).
var Photos = []string{"dog/dog_animals10_0001.jpg", "butterfly/butterfly_animals10_0001.jpg"}

func synthetic(kind int) *image.NRGBA {
	const s = mobilenetv2.DefaultSize
	img := image.NewNRGBA(image.Rect(0, 0, s, s))
	state := uint32(12345)
	for y := range s {
		for x := range s {
			var c color.NRGBA
			if kind == 0 { // smooth gradients and stripes
				c = color.NRGBA{uint8((x * 255) / (s - 1)), uint8((y * 255) / (s - 1)), uint8(((x/8 + y/8) % 2) * 200), 255}
			} else { // xorshift noise
				state ^= state << 13
				state ^= state >> 17
				state ^= state << 5
				c = color.NRGBA{uint8(state), uint8(state >> 8), uint8(state >> 16), 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func main() {
	dir, ok := assets.SharedPath("data", "animals5")
	if !ok {
		log.Fatalf("shared data/animals5 not found (set %s)", assets.SharedEnv)
	}
	imgs := []*image.NRGBA{synthetic(0), synthetic(1)}
	for _, p := range Photos {
		img, err := imaging.Open(filepath.Join(dir, p))
		if err != nil {
			log.Fatal(err)
		}
		imgs = append(imgs, mobilenetv2.CenterCrop(img, mobilenetv2.DefaultSize))
	}
	var out []byte
	for _, img := range imgs {
		for i := 0; i < len(img.Pix); i += 4 {
			out = append(out, img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		}
	}
	if err := os.WriteFile("mlkit/models/mobilenetv2/testdata/inputs.u8", out, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %d images (%d bytes)", len(imgs), len(out))
}

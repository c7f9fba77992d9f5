// Package pipeline turns image files into the fixed-size uint8 tensors training and prediction feed to a
// model: decode once (jpeg, png, gif, bmp, webp, within the upload limits of package ingest), resize the shorter side and center-crop to the training
// resolution, cache the pixels on disk keyed by file content and size, and augment training images
// deterministically (random resized crop, horizontal flip, colour jitter) from a seeded random source.
package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/disintegration/imaging"
	"github.com/visionnb/visionnb/mlkit/ingest"
	"github.com/visionnb/visionnb/mlkit/internal/atomicfile"
)

// Decode reads and decodes an image file within the upload limits ([ingest.DefaultLimits]: bytes, pixels
// checked on the header before decoding, formats jpeg, png, gif, bmp, webp), applying the EXIF
// orientation of JPEGs. Errors carry the ingest Reason (see ingest.ReasonOf).
func Decode(path string) (image.Image, error) { return Cache{}.decodeFile(path) }

// limits returns the cache's limits (the upload defaults when unset).
func (c Cache) limits() ingest.Limits {
	if c.Limits == (ingest.Limits{}) {
		return ingest.DefaultLimits()
	}
	return c.Limits
}

func (c Cache) decodeFile(path string) (image.Image, error) {
	img, _, err := c.limits().DecodeFile(path)
	if err != nil {
		return nil, fmt.Errorf("decoding image: %w", err)
	}
	return img, nil
}

func (c Cache) decodeBytes(path string, data []byte) (image.Image, error) {
	img, _, err := c.limits().Decode(data)
	if err != nil {
		return nil, fmt.Errorf("decoding image %s: %w", path, err)
	}
	return img, nil
}

// Prepare resizes img so its shorter side is size (Lanczos) and crops the center size x size square,
// returning the pixels as RGB bytes, row-major [size][size][3].
func Prepare(img image.Image, size int) []uint8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var resized *image.NRGBA
	if w <= h {
		resized = imaging.Resize(img, size, 0, imaging.Lanczos)
	} else {
		resized = imaging.Resize(img, 0, size, imaging.Lanczos)
	}
	cropped := imaging.CropCenter(resized, size, size)
	out := make([]uint8, size*size*3)
	for y := range size {
		row := cropped.Pix[y*cropped.Stride : y*cropped.Stride+size*4]
		for x := range size {
			p := row[x*4 : x*4+4]
			// NRGBA: composite translucent pixels over black so the model never sees alpha.
			a := uint32(p[3])
			o := (y*size + x) * 3
			out[o] = uint8(uint32(p[0]) * a / 255)
			out[o+1] = uint8(uint32(p[1]) * a / 255)
			out[o+2] = uint8(uint32(p[2]) * a / 255)
		}
	}
	return out
}

// Cache keeps prepared pixels on disk under Dir, one file per (file content, size): later runs, and
// other notebook cells, skip decoding. An empty Dir disables the cache.
type Cache struct {
	// Dir is the cache directory; it is created on first write.
	Dir string
	// Limits bound the files read and decoded (zero: ingest.DefaultLimits, the upload defaults).
	Limits ingest.Limits
}

// Load returns the prepared size x size RGB pixels of the image file at path, from the cache when there.
func (c Cache) Load(path string, size int) ([]uint8, error) {
	data, err := c.limits().ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading image: %w", err)
	}
	var file string
	if c.Dir != "" {
		sum := sha256.Sum256(data)
		file = filepath.Join(c.Dir, fmt.Sprintf("%s_%d.rgb", hex.EncodeToString(sum[:16]), size))
		if px, err := os.ReadFile(file); err == nil && len(px) == size*size*3 {
			return px, nil
		}
	}
	img, err := c.decodeBytes(path, data)
	if err != nil {
		return nil, err
	}
	px := Prepare(img, size)
	if file != "" {
		// Two goroutines (or processes) may prepare the same content at once: each writes its own
		// temporary file.
		if err := atomicfile.WriteFile(file, px, 0o644); err != nil {
			return nil, fmt.Errorf("writing image cache: %w", err)
		}
	}
	return px, nil
}

// LoadAll loads every path with Load, using up to GOMAXPROCS goroutines; the first error wins and names
// the file.
func (c Cache) LoadAll(paths []string, size int) ([][]uint8, error) {
	out := make([][]uint8, len(paths))
	errs := make([]error, len(paths))
	workers := max(1, min(runtime.GOMAXPROCS(0), len(paths)))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = c.Load(paths[i], size)
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("image %d (%s): %w", i, paths[i], err)
		}
	}
	return out, nil
}

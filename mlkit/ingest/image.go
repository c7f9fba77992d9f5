package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/disintegration/imaging"
	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"
)

// Format is an accepted image encoding.
type Format string

// The accepted formats. GIF uses the first frame.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	BMP  Format = "bmp"
	WebP Format = "webp"
)

// Sniff looks at the first bytes of data (never at a file name) and returns its image format. For a known
// but unsupported image format (TIFF, SVG, HEIC, AVIF, ICO, PSD) it returns an empty Format and that
// format's name in unsupported; for anything else, two empty strings.
func Sniff(data []byte) (f Format, unsupported string) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG, ""
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, ""
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return GIF, ""
	case len(data) >= 12 && bytes.Equal(data[:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WEBP")):
		return WebP, ""
	case len(data) >= 26 && bytes.HasPrefix(data, []byte("BM")):
		return BMP, ""
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return "", "TIFF"
	case len(data) >= 12 && bytes.Equal(data[4:8], []byte("ftyp")):
		brand := string(data[8:12])
		switch brand {
		case "heic", "heix", "hevc", "mif1", "msf1":
			return "", "HEIC"
		case "avif", "avis":
			return "", "AVIF"
		}
	case bytes.HasPrefix(data, []byte{0, 0, 1, 0}):
		return "", "ICO"
	case bytes.HasPrefix(data, []byte("8BPS")):
		return "", "PSD"
	}
	head := data
	if len(head) > 4096 {
		head = head[:4096]
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n")
	if (bytes.HasPrefix(head, []byte("<?xml")) || bytes.HasPrefix(head, []byte("<svg")) || bytes.HasPrefix(head, []byte("<!DOCTYPE svg"))) &&
		bytes.Contains(bytes.ToLower(head), []byte("<svg")) {
		return "", "SVG"
	}
	return "", ""
}

func decodeConfig(f Format, r io.Reader) (image.Config, error) {
	switch f {
	case JPEG:
		return jpeg.DecodeConfig(r)
	case PNG:
		return png.DecodeConfig(r)
	case GIF:
		return gif.DecodeConfig(r)
	case BMP:
		return bmp.DecodeConfig(r)
	case WebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, fmt.Errorf("unknown format %q", f)
}

func decode(f Format, r io.Reader) (image.Image, error) {
	switch f {
	case JPEG:
		return jpeg.Decode(r)
	case PNG:
		return png.Decode(r)
	case GIF:
		return gif.Decode(r)
	case BMP:
		return bmp.Decode(r)
	case WebP:
		return webp.Decode(r)
	}
	return nil, fmt.Errorf("unknown format %q", f)
}

// Decode checks and decodes an image within [DefaultLimits] (see [Limits.Decode]): the format is sniffed,
// the header's size is checked before any pixel is decoded, and the EXIF orientation is applied, so the
// result is upright as a viewer would show it. Downstream code (embeddings, training, prediction) should
// decode with Decode, [Limits.Decode] or [LoadImage], never with image.Decode, which has no limits and
// ignores the orientation. Errors are [*Rejection] values (see [ReasonOf]).
func Decode(data []byte) (image.Image, Format, error) { return DefaultLimits().Decode(data) }

// Orientation returns the EXIF orientation tag (1..8) of a JPEG, or 1 when there is none or it cannot
// be read. 1 is upright; 6 means the stored pixels must be rotated 90° clockwise to display.
func Orientation(jpegData []byte) int {
	d := jpegData
	if len(d) < 4 || d[0] != 0xFF || d[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(d); {
		if d[i] != 0xFF {
			return 1
		}
		marker := d[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan / end of image: no more metadata
			return 1
		}
		if marker >= 0xD0 && marker <= 0xD7 || marker == 0x01 {
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(d[i+2:]))
		if n < 2 || i+2+n > len(d) {
			return 1
		}
		seg := d[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			if o := exifOrientation(seg[6:]); o != 0 {
				return o
			}
		}
		i += 2 + n
	}
	return 1
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured EXIF block; 0 when absent or invalid.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	ifd := int(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > len(t) {
		return 0
	}
	count := int(bo.Uint16(t[ifd:]))
	for k := 0; k < count; k++ {
		e := ifd + 2 + 12*k
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ, n := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if typ != 3 || n != 1 { // SHORT, one value
			return 0
		}
		if o := int(bo.Uint16(t[e+8:])); o >= 1 && o <= 8 {
			return o
		}
		return 0
	}
	return 0
}

// Orient returns img transformed as EXIF orientation o says (1..8); other values return img unchanged.
func Orient(img image.Image, o int) image.Image {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img) // 90° clockwise
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img) // 90° counter-clockwise
	}
	return img
}

// orientedSize returns the displayed size of a w×h image with EXIF orientation o.
func orientedSize(w, h, o int) (int, int) {
	if o >= 5 && o <= 8 {
		return h, w
	}
	return w, h
}

// ThumbnailSide is the longest side of stored thumbnails, in pixels.
const ThumbnailSide = 256

// Thumbnail scales an upright image to fit in ThumbnailSide×ThumbnailSide (never enlarging), flattens
// transparency onto white and encodes it as JPEG.
func Thumbnail(img image.Image) ([]byte, error) {
	small := imaging.Fit(img, ThumbnailSide, ThumbnailSide, imaging.Linear)
	b := small.Bounds()
	flat := imaging.Overlay(imaging.New(b.Dx(), b.Dy(), color.White), small, image.Point{}, 1)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, flat, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("encoding thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
)

// Limits bound what any path that reads an image accepts: uploads, predictions on a folder, embeddings,
// training and evaluation all read files and blobs through one Limits value, so a file rejected by an
// upload is rejected everywhere, for the same [Reason].
//
// The byte limit is checked on the file's metadata before reading and again while reading (a file that
// grows, a pipe); the pixel limit is checked on the header (image.DecodeConfig) before a single pixel is
// decoded, so a small file whose header claims a huge image (a pixel bomb) never allocates its pixels.
type Limits struct {
	// MaxBytes is the largest accepted file, in bytes.
	MaxBytes int64
	// MaxPixels is the largest accepted width×height.
	MaxPixels int64
}

// DefaultLimits returns the limits of an upload that sets none: [DefaultMaxBytes] and [DefaultMaxPixels].
func DefaultLimits() Limits { return Limits{MaxBytes: DefaultMaxBytes, MaxPixels: DefaultMaxPixels} }

// ReasonOf returns the [Reason] carried by an error of this package's checks (a [*Rejection] anywhere in
// its chain), or "" when there is none.
func ReasonOf(err error) Reason {
	var rj *Rejection
	if errors.As(err, &rj) {
		return rj.Reason
	}
	return ""
}

func rejectf(source string, reason Reason, format string, args ...any) *Rejection {
	return &Rejection{Source: source, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ReadFile reads the file at path within l.MaxBytes. Only regular files are read (a symbolic link is
// followed to its target): a named pipe, device or socket is rejected before it is opened, since reading
// one can block forever or never end. Errors are [*Rejection] values naming path.
func (l Limits) ReadFile(path string) ([]byte, error) {
	data, rj := l.readFile(path)
	if rj != nil {
		return nil, rj
	}
	return data, nil
}

func (l Limits) readFile(path string) ([]byte, *Rejection) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, rejectf(path, ReasonUnreadable, "%v", err)
	}
	if st.IsDir() {
		return nil, rejectf(path, ReasonUnreadable, "a folder, not a file")
	}
	if !st.Mode().IsRegular() {
		return nil, rejectf(path, ReasonUnreadable, "not a regular file (%s)", st.Mode().Type())
	}
	if st.Size() > l.MaxBytes {
		return nil, rejectf(path, ReasonTooManyBytes, "%d bytes, limit %d", st.Size(), l.MaxBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, rejectf(path, ReasonUnreadable, "%v", err)
	}
	defer f.Close()
	data, rj := l.read(f)
	if rj != nil {
		rj.Source = path
	}
	return data, rj
}

// read reads r to its end, failing once more than l.MaxBytes arrive.
func (l Limits) read(r io.Reader) ([]byte, *Rejection) {
	data, err := io.ReadAll(io.LimitReader(r, l.MaxBytes+1))
	if err != nil {
		return nil, &Rejection{Reason: ReasonUnreadable, Message: err.Error()}
	}
	if int64(len(data)) > l.MaxBytes {
		return nil, &Rejection{Reason: ReasonTooManyBytes, Message: fmt.Sprintf("more than %d bytes", l.MaxBytes)}
	}
	return data, nil
}

// Check validates data without decoding its pixels: its size, its format (sniffed from the content, never
// from a name: JPEG, PNG, GIF, BMP or WebP) and its header's dimensions. It returns the format and the
// header. Errors are [*Rejection] values (with an empty Source) whose Reason says what was wrong.
func (l Limits) Check(data []byte) (Format, image.Config, error) {
	f, cfg, rj := l.check(data)
	if rj != nil {
		return f, cfg, rj
	}
	return f, cfg, nil
}

func (l Limits) check(data []byte) (Format, image.Config, *Rejection) {
	if len(data) == 0 {
		return "", image.Config{}, rejectf("", ReasonNotImage, "empty file")
	}
	if int64(len(data)) > l.MaxBytes {
		return "", image.Config{}, rejectf("", ReasonTooManyBytes, "%d bytes, limit %d", len(data), l.MaxBytes)
	}
	f, unsupported := Sniff(data)
	if f == "" {
		if unsupported != "" {
			return "", image.Config{}, rejectf("", ReasonUnsupported, "%s images are not supported (use JPEG, PNG, GIF, BMP or WebP)", unsupported)
		}
		return "", image.Config{}, rejectf("", ReasonNotImage, "content is not a recognised image format")
	}
	cfg, err := decodeConfig(f, bytes.NewReader(data))
	if err != nil {
		return f, cfg, rejectf("", ReasonCorrupt, "reading %s header: %v", f, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return f, cfg, rejectf("", ReasonCorrupt, "%s header says %dx%d pixels", f, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > l.MaxPixels {
		return f, cfg, rejectf("", ReasonTooManyPixels, "%dx%d = %d pixels, limit %d", cfg.Width, cfg.Height, px, l.MaxPixels)
	}
	return f, cfg, nil
}

// Decode checks data (see Check) and only then decodes it fully (the first frame of a GIF), applying the
// EXIF orientation of a JPEG so the result is upright as a viewer would show it. Errors are [*Rejection]
// values; a file whose header passes but whose pixels do not decode is [ReasonCorrupt].
func (l Limits) Decode(data []byte) (image.Image, Format, error) {
	img, f, rj := l.decode(data)
	if rj != nil {
		return nil, f, rj
	}
	return img, f, nil
}

func (l Limits) decode(data []byte) (image.Image, Format, *Rejection) {
	f, _, rj := l.check(data)
	if rj != nil {
		return nil, f, rj
	}
	img, err := decode(f, bytes.NewReader(data))
	if err != nil {
		return nil, f, rejectf("", ReasonCorrupt, "decoding %s: %v", f, err)
	}
	if f == JPEG {
		img = Orient(img, Orientation(data))
	}
	return img, f, nil
}

// DecodeFile reads the file at path (see ReadFile) and decodes it (see Decode). Errors are [*Rejection]
// values naming path.
func (l Limits) DecodeFile(path string) (image.Image, Format, error) {
	data, rj := l.readFile(path)
	if rj != nil {
		return nil, "", rj
	}
	img, f, rj := l.decode(data)
	if rj != nil {
		rj.Source = path
		return nil, f, rj
	}
	return img, f, nil
}

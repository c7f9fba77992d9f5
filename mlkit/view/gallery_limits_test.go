package view

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGalleryRefusesPixelBombs: a gallery decodes its files and bytes with the upload limits, so a small
// PNG whose header claims 100000x100000 pixels becomes an error tile naming the reason (before, the
// decoder allocated 37 GiB), and the other items still show.
func TestGalleryRefusesPixelBombs(t *testing.T) {
	var b bytes.Buffer
	if err := png.Encode(&b, solidImage(1, 1, color.RGBA{1, 2, 3, 255})); err != nil {
		t.Fatal(err)
	}
	bomb := b.Bytes()
	binary.BigEndian.PutUint32(bomb[16:], 100000)
	binary.BigEndian.PutUint32(bomb[20:], 100000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	path := filepath.Join(t.TempDir(), "bomb.png")
	if err := os.WriteFile(path, bomb, 0o644); err != nil {
		t.Fatal(err)
	}
	out := Gallery().Add(Item{Image: path}, Item{Bytes: bomb}, Item{Picture: solidImage(8, 8, color.RGBA{200, 0, 0, 255})}).HTML()
	if n := strings.Count(out, "too_many_pixels"); n != 2 {
		t.Errorf("%d tiles name too_many_pixels, want 2", n)
	}
	if n := strings.Count(out, "<img "); n != 1 {
		t.Errorf("%d images shown, want the 1 good one", n)
	}
}

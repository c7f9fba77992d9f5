package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit/store"
)

// hugePNGHeader returns a PNG whose header claims w×h pixels but holds no pixel data.
func hugePNGHeader(t *testing.T, w, h uint32) []byte {
	data := encPNG(t, noise(1, 1, 1))
	// IHDR data starts at byte 16 (8 signature + 4 length + 4 type).
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data[:33]
}

func TestUploadAcceptsEveryFormatAndRejectsEachBadFile(t *testing.T) {
	dir := t.TempDir()
	good := map[string][]byte{
		"dog/a.jpg":  encJPEG(t, noise(40, 30, 1)),
		"dog/b.png":  encPNG(t, noise(30, 20, 2)),
		"cat/c.gif":  encGIF(t, noise(20, 20, 3)),
		"cat/d.bmp":  encBMP(t, noise(10, 12, 4)),
		"cat/e.webp": mustRead(t, "testdata/lossless.webp"),
		"cat/f.webp": mustRead(t, "testdata/lossy.webp"),
		// Misleading extension: a PNG named .jpg is accepted by content.
		"dog/png-named.jpg": encPNG(t, noise(8, 8, 5)),
	}
	for name, data := range good {
		write(t, filepath.Join(dir, name), data)
	}
	jpg := encJPEG(t, noise(64, 64, 6))
	bad := map[string]struct {
		data []byte
		want Reason
	}{
		"notes.jpg":     {[]byte("this is just text, not an image\n"), ReasonNotImage},
		"empty.png":     {nil, ReasonNotImage},
		"truncated.jpg": {jpg[:len(jpg)/2], ReasonCorrupt},
		"scan.tiff":     {encTIFF(t, noise(8, 8, 7)), ReasonUnsupported},
		"logo.svg":      {[]byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>`), ReasonUnsupported},
		"big.png":       {encPNG(t, noise(300, 300, 8)), ReasonTooManyBytes},
		"huge.png":      {hugePNGHeader(t, 50000, 50000), ReasonTooManyPixels},
		"wide.jpg":      {encJPEG(t, noise(1200, 10, 9)), ReasonTooManyPixels},
	}
	for name, b := range bad {
		write(t, filepath.Join(dir, "dog", name), b.data)
	}
	st := openStore(t)
	rep := mustRun(t, New(st).Folder(dir).LabelsFromFolders().MaxBytes(100_000).MaxPixels(10_000))
	if len(rep.Added) != len(good) {
		t.Errorf("added %d, want %d; rejected: %v", len(rep.Added), len(good), rep.Rejected)
	}
	got := reasons(rep)
	for name, b := range bad {
		if got[name] != b.want {
			t.Errorf("%s: reason %q, want %q", name, got[name], b.want)
		}
	}
	if len(rep.Rejected) != len(bad) {
		t.Errorf("rejected %d, want %d: %v", len(rep.Rejected), len(bad), rep.Rejected)
	}
	if rep.Labels["dog"] != 3 || rep.Labels["cat"] != 4 {
		t.Errorf("labels %v, want dog 3, cat 4", rep.Labels)
	}
	// Every added input has a blob with its content, a thumbnail, and the right metadata.
	formats := map[string]string{}
	for _, it := range rep.Added {
		in, err := st.Input(context.Background(), it.InputID)
		if err != nil {
			t.Fatal(err)
		}
		formats[filepath.Base(it.Source)] = in.Format
		blob, err := st.ReadBlob(in.SHA256)
		if err != nil || store.SHA256(blob) != in.SHA256 {
			t.Errorf("%s: blob missing or wrong: %v", it.Source, err)
		}
		if _, err := os.Stat(st.ThumbPath(in.SHA256)); err != nil {
			t.Errorf("%s: no thumbnail: %v", it.Source, err)
		}
	}
	wantFormats := map[string]string{"a.jpg": "jpeg", "b.png": "png", "c.gif": "gif", "d.bmp": "bmp", "e.webp": "webp", "f.webp": "webp", "png-named.jpg": "png"}
	for n, f := range wantFormats {
		if formats[n] != f {
			t.Errorf("%s: format %q, want %q", n, formats[n], f)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebPDecodesPixels(t *testing.T) {
	img, f, err := Decode(mustRead(t, "testdata/lossless.webp"))
	if err != nil || f != WebP {
		t.Fatalf("Decode: %v %v", f, err)
	}
	if b := img.Bounds(); b.Dx() != 12 || b.Dy() != 8 {
		t.Fatalf("size %v, want 12x8", b)
	}
	r, _, b, _ := img.At(1, 4).RGBA()
	r2, _, b2, _ := img.At(10, 4).RGBA()
	if r>>8 != 255 || b>>8 != 0 || r2>>8 != 0 || b2>>8 != 255 {
		t.Errorf("pixels (1,4)=%d,%d (10,4)=%d,%d; want red then blue", r>>8, b>>8, r2>>8, b2>>8)
	}
}

func TestDuplicatesAndIdempotentRerun(t *testing.T) {
	dir := t.TempDir()
	a := encJPEG(t, noise(20, 20, 1))
	write(t, filepath.Join(dir, "dog", "a.jpg"), a)
	write(t, filepath.Join(dir, "dog", "a-copy.jpg"), a)
	write(t, filepath.Join(dir, "dog", "b.png"), encPNG(t, noise(20, 20, 2)))
	write(t, filepath.Join(dir, "cat", "c.png"), encPNG(t, noise(20, 20, 3)))
	st := openStore(t)
	rep := mustRun(t, New(st).Folder(dir).LabelsFromFolders())
	if len(rep.Added) != 3 || len(rep.Duplicates) != 1 || len(rep.Rejected) != 0 {
		t.Fatalf("first run: %s", rep.Summary())
	}
	if d := rep.Duplicates[0]; !strings.HasSuffix(d.DuplicateOf, "a-copy.jpg") && !strings.HasSuffix(d.DuplicateOf, "a.jpg") {
		t.Errorf("duplicate of %q, want the other copy", d.DuplicateOf)
	}
	rep2 := mustRun(t, New(st).Folder(dir).LabelsFromFolders())
	if len(rep2.Added) != 0 || len(rep2.Duplicates) != 4 || len(rep2.Labels) != 0 {
		t.Fatalf("re-run: %s, labels %v; want 0 added, 4 duplicates, no new labels", rep2.Summary(), rep2.Labels)
	}
	n, _ := st.CountInputs(context.Background())
	cs, _ := st.Concepts(context.Background())
	if n != 3 || len(cs) != 2 || cs[0].Inputs != 1 || cs[1].Inputs != 2 {
		t.Errorf("after re-run: %d inputs, concepts %+v", n, cs)
	}
	// A duplicate uploaded with a new label gets the label.
	rep3 := mustRun(t, New(st).Files(filepath.Join(dir, "cat", "c.png")).Label("pet"))
	if len(rep3.Duplicates) != 1 || rep3.Labels["pet"] != 1 {
		t.Errorf("duplicate with a label: %s %v", rep3.Summary(), rep3.Labels)
	}
}

func TestEXIFOrientation6(t *testing.T) {
	// Stored pixels: 40 wide, 20 high, left half red. Orientation 6 displays them rotated 90° clockwise:
	// 20 wide, 40 high, red on top.
	raw := encJPEG(t, halves(40, 20))
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		data := withEXIFOrientation(raw, 6, order)
		if o := Orientation(data); o != 6 {
			t.Fatalf("%v: Orientation = %d, want 6", order, o)
		}
		dir := t.TempDir()
		p := write(t, filepath.Join(dir, "rot.jpg"), data)
		st := openStore(t)
		rep := mustRun(t, New(st).Files(p))
		if len(rep.Added) != 1 {
			t.Fatalf("%s", rep.Summary())
		}
		in, _ := st.Input(context.Background(), rep.Added[0].InputID)
		if in.Width != 20 || in.Height != 40 || in.Orientation != 6 {
			t.Errorf("stored %dx%d orientation %d, want 20x40 orientation 6", in.Width, in.Height, in.Orientation)
		}
		blob, _ := st.ReadBlob(in.SHA256)
		if !bytes.Equal(blob, data) {
			t.Errorf("blob differs from the original bytes")
		}
		f, err := os.Open(st.ThumbPath(in.SHA256))
		if err != nil {
			t.Fatal(err)
		}
		thumb, err := jpeg.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		checkRedOnTop(t, "thumbnail", thumb)
		img, err := LoadImage(st, in)
		if err != nil {
			t.Fatal(err)
		}
		checkRedOnTop(t, "LoadImage", img)
	}
	if o := Orientation(raw); o != 1 {
		t.Errorf("Orientation of a JPEG without EXIF = %d, want 1", o)
	}
}

func checkRedOnTop(t *testing.T, what string, img image.Image) {
	t.Helper()
	b := img.Bounds()
	if b.Dx() != 20 || b.Dy() != 40 {
		t.Fatalf("%s: size %dx%d, want 20x40", what, b.Dx(), b.Dy())
	}
	r, _, bl, _ := img.At(b.Min.X+10, b.Min.Y+5).RGBA()
	r2, _, bl2, _ := img.At(b.Min.X+10, b.Min.Y+35).RGBA()
	if r>>8 < 200 || bl>>8 > 60 || r2>>8 > 60 || bl2>>8 < 200 {
		t.Errorf("%s: top pixel (%d,%d) bottom (%d,%d) in (red, blue); want red on top, blue below", what, r>>8, bl>>8, r2>>8, bl2>>8)
	}
}

func TestOrientTransforms(t *testing.T) {
	// A 3x2 image with distinct pixels; each orientation must map the stored top-left pixel where EXIF says.
	src := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range src.Pix {
		src.Pix[i] = uint8(10 * (i + 1)) // row 0: 10 20 30; row 1: 40 50 60
	}
	// Displayed top-left pixel for each orientation (EXIF spec).
	wantTopLeft := map[int]uint8{1: 10, 2: 30, 3: 60, 4: 40, 5: 10, 6: 40, 7: 60, 8: 30}
	for o, want := range wantTopLeft {
		img := Orient(src, o)
		w, h := orientedSize(3, 2, o)
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("orientation %d: size %v, want %dx%d", o, b, w, h)
		}
		g, _, _, _ := img.At(img.Bounds().Min.X, img.Bounds().Min.Y).RGBA()
		if uint8(g>>8) != want {
			t.Errorf("orientation %d: top-left %d, want %d", o, g>>8, want)
		}
	}
}

func makeZip(t *testing.T, path string, entries map[string][]byte, method uint16) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, data := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestZipLabelsSlipAndBomb(t *testing.T) {
	dir := t.TempDir()
	zpath := filepath.Join(dir, "upload.zip")
	makeZip(t, zpath, map[string][]byte{
		"photos/dog/a.jpg":    encJPEG(t, noise(16, 16, 1)),
		"photos/cat/b.png":    encPNG(t, noise(16, 16, 2)),
		"top.png":             encPNG(t, noise(16, 16, 3)),
		"../evil.png":         encPNG(t, noise(16, 16, 4)),
		"photos/../../x.png":  encPNG(t, noise(16, 16, 5)),
		"/etc/abs.png":        encPNG(t, noise(16, 16, 6)),
		"photos/dog/bomb.bmp": make([]byte, 8<<20), // 8 MiB of zeros deflates ~1000:1
	}, zip.Deflate)
	st := openStore(t)
	rep := mustRun(t, New(st).Zip(zpath).LabelsFromFolders())
	if len(rep.Added) != 3 {
		t.Errorf("added %d, want 3: %s %v", len(rep.Added), rep.Summary(), rep.Rejected)
	}
	if n := len(rep.RejectedBy(ReasonUnsafePath)); n != 3 {
		t.Errorf("unsafe paths rejected: %d, want 3: %v", n, rep.Rejected)
	}
	if n := len(rep.RejectedBy(ReasonZipBomb)); n != 1 {
		t.Errorf("zip bombs rejected: %d, want 1: %v", n, rep.Rejected)
	}
	if rep.Labels["dog"] != 1 || rep.Labels["cat"] != 1 || len(rep.Labels) != 2 {
		t.Errorf("labels %v, want dog 1, cat 1", rep.Labels)
	}
	for _, it := range rep.Added {
		if !strings.HasPrefix(it.Source, "zip:"+zpath+"!") {
			t.Errorf("source %q lacks the archive provenance", it.Source)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "evil.png")); err == nil {
		t.Errorf("zip slip wrote outside the folder")
	}
	// The total uncompressed budget also stops bombs made of many modest entries.
	z2 := filepath.Join(dir, "many.zip")
	entries := map[string][]byte{}
	for i := 0; i < 4; i++ {
		entries[fmt.Sprintf("n%d.png", i)] = encPNG(t, noise(64, 64, int64(10+i)))
	}
	makeZip(t, z2, entries, zip.Store)
	rep2 := mustRun(t, New(st).Zip(z2).MaxArchiveBytes(40_000))
	if len(rep2.RejectedBy(ReasonZipBomb)) == 0 || len(rep2.Added) == 0 {
		t.Errorf("archive budget: %s %v; want some added, then zip_bomb", rep2.Summary(), rep2.Rejected)
	}
}

func TestURLSources(t *testing.T) {
	img := encPNG(t, noise(24, 24, 42))
	mux := http.NewServeMux()
	mux.HandleFunc("/cat.png", func(w http.ResponseWriter, r *http.Request) { w.Write(img) })
	mux.HandleFunc("/page.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png") // lies: content sniffing must win
		w.Write([]byte("<html><body>not an image</body></html>"))
	})
	mux.HandleFunc("/big.png", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 300_000)) })
	mux.HandleFunc("/slow.png", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	st := openStore(t)
	rep := mustRun(t, New(st).URL(srv.URL+"/cat.png", srv.URL+"/missing.png", srv.URL+"/page.html", srv.URL+"/big.png",
		srv.URL+"/slow.png", "ftp://example.com/x.png").MaxBytes(200_000).Timeout(300*time.Millisecond))
	if len(rep.Added) != 1 || rep.Added[0].Source != srv.URL+"/cat.png" || rep.Added[0].FileName != "cat.png" {
		t.Fatalf("added %+v", rep.Added)
	}
	want := map[string]Reason{
		"missing.png": ReasonDownload, "page.html": ReasonNotImage, "big.png": ReasonTooManyBytes,
		"slow.png": ReasonDownload, "x.png": ReasonDownload,
	}
	got := reasons(rep)
	for n, r := range want {
		if got[n] != r {
			t.Errorf("%s: %q, want %q (%v)", n, got[n], r, rep.Rejected)
		}
	}
	for _, r := range rep.Rejected {
		if strings.HasSuffix(r.Source, "missing.png") && !strings.Contains(r.Message, "404") {
			t.Errorf("404 message %q does not say 404", r.Message)
		}
	}
}

func TestGlobAndFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "dog", "1.png"), encPNG(t, noise(8, 8, 1)))
	write(t, filepath.Join(dir, "dog", "2.png"), encPNG(t, noise(8, 8, 2)))
	write(t, filepath.Join(dir, "cat", "3.jpg"), encJPEG(t, noise(8, 8, 3)))
	st := openStore(t)
	var calls, lastDone, lastTotal int
	rep := mustRun(t, New(st).Glob(filepath.Join(dir, "*", "*.png")).LabelsFromFolders().
		OnProgress(func(done, total int) { calls, lastDone, lastTotal = calls+1, done, total }))
	if calls != 2 || lastDone != 2 || lastTotal != 2 {
		t.Errorf("progress: %d calls, last %d/%d; want 2 calls ending 2/2", calls, lastDone, lastTotal)
	}
	if len(rep.Added) != 2 || rep.Labels["dog"] != 2 {
		t.Errorf("glob: %s %v", rep.Summary(), rep.Labels)
	}
	rep = mustRun(t, New(st).Files(filepath.Join(dir, "cat", "3.jpg"), filepath.Join(dir, "nope.jpg")))
	if len(rep.Added) != 1 || len(rep.RejectedBy(ReasonUnreadable)) != 1 || len(rep.Labels) != 0 {
		t.Errorf("files: %s %v %v", rep.Summary(), rep.Rejected, rep.Labels)
	}
	if _, err := New(st).MaxBytes(0).Run(context.Background()); err == nil {
		t.Errorf("MaxBytes(0) was accepted")
	}
}

func TestCancelledUploadReturnsError(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 5; i++ {
		write(t, filepath.Join(dir, fmt.Sprintf("%d.png", i)), encPNG(t, noise(8, 8, int64(i))))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(openStore(t)).Folder(dir).Run(ctx)
	if err == nil {
		t.Fatalf("Run with a cancelled context succeeded")
	}
}

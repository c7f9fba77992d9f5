package ingest

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// pixelBombPNG returns a complete, small PNG (header, pixel data, end) whose header claims w×h pixels:
// decoding it without a header check allocates w×h×4 bytes (37 GiB for 100000×100000) before failing.
func pixelBombPNG(t testing.TB, w, h uint32) []byte {
	data := encPNG(t, noise(1, 1, 1))
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

func TestDecodeChecksTheHeaderBeforeDecoding(t *testing.T) {
	jpg := encJPEG(t, noise(64, 48, 1))
	cases := map[string]struct {
		data []byte
		want Reason
	}{
		"pixel bomb": {pixelBombPNG(t, 100000, 100000), ReasonTooManyPixels},
		"truncated":  {jpg[:len(jpg)/2], ReasonCorrupt},
		"text":       {[]byte("id,name\n1,=cmd\n"), ReasonNotImage},
		"tiff":       {encTIFF(t, noise(4, 4, 2)), ReasonUnsupported},
		"empty":      {nil, ReasonNotImage},
	}
	for name, c := range cases {
		img, _, err := Decode(c.data)
		if err == nil || img != nil {
			t.Errorf("%s: decoded, want a %s rejection", name, c.want)
			continue
		}
		if got := ReasonOf(err); got != c.want {
			t.Errorf("%s: reason %q (%v), want %q", name, got, err, c.want)
		}
	}
	img, f, err := Decode(jpg)
	if err != nil || f != JPEG || img.Bounds().Dx() != 64 {
		t.Fatalf("a good JPEG: %v %v %v", img, f, err)
	}
	// The limits are the upload's: a tighter Limits rejects what the default accepts.
	if _, _, err := (Limits{MaxBytes: DefaultMaxBytes, MaxPixels: 1000}).Decode(jpg); ReasonOf(err) != ReasonTooManyPixels {
		t.Errorf("64x48 within 1000 pixels: %v", err)
	}
	if _, _, err := (Limits{MaxBytes: 100, MaxPixels: DefaultMaxPixels}).Decode(jpg); ReasonOf(err) != ReasonTooManyBytes {
		t.Errorf("%d bytes within 100: %v", len(jpg), err)
	}
}

func TestReadFileLimitsAndSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	big := write(t, filepath.Join(dir, "big.bin"), make([]byte, 2000))
	lim := Limits{MaxBytes: 1000, MaxPixels: DefaultMaxPixels}
	if _, err := lim.ReadFile(big); ReasonOf(err) != ReasonTooManyBytes || !strings.Contains(err.Error(), big) {
		t.Errorf("2000 bytes within 1000: %v", err)
	}
	fifo := filepath.Join(dir, "pipe.jpg")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	// Opening a pipe for reading blocks until a writer comes: it must be refused before it is opened.
	if _, err := lim.ReadFile(fifo); ReasonOf(err) != ReasonUnreadable || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("named pipe: %v", err)
	}
	rep := mustRun(t, New(openStore(t)).Folder(dir))
	if got := reasons(rep); got["pipe.jpg"] != ReasonUnreadable || got["big.bin"] != ReasonNotImage {
		t.Errorf("upload of a folder with a pipe: %v", rep.Rejected)
	}
}

func TestFolderRejectsSymlinksOutsideTheTree(t *testing.T) {
	outside := t.TempDir()
	secret := write(t, filepath.Join(outside, "secret.png"), encPNG(t, noise(6, 6, 1)))
	write(t, filepath.Join(outside, "photos", "other.png"), encPNG(t, noise(6, 6, 2)))
	dir := t.TempDir()
	inside := write(t, filepath.Join(dir, "cat", "real.png"), encPNG(t, noise(6, 6, 3)))
	write(t, filepath.Join(dir, ".stash", "kept.png"), encPNG(t, noise(6, 6, 4)))
	links := map[string]string{
		"cat/to-secret.png": secret,                                         // a file outside
		"cat/escape":        filepath.Join(outside, "photos"),               // a folder outside
		"dog/alias.png":     inside,                                         // a file inside: followed
		"dog/more":          filepath.Join(dir, ".stash"),                   // a (hidden) folder inside: followed
		"dog/again":         filepath.Join(dir, "cat"),                      // a folder inside, walked already: skipped
		"dog/loop":          dir,                                            // the root itself: already walked
		"dog/dangling.png":  filepath.Join(dir, "missing.png"),              // resolves nowhere
		"rel.png":           "../" + filepath.Base(outside) + "/secret.png", // relative, outside
	}
	for name, target := range links {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if name == "rel.png" {
			// A relative link climbing out of the tree (dir and outside share a parent in TempDir).
			if filepath.Dir(dir) != filepath.Dir(outside) {
				continue
			}
		}
		if err := os.Symlink(target, p); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
	}
	st := openStore(t)
	rep := mustRun(t, New(st).Folder(dir).LabelsFromFolders())
	rejected := map[string]Rejection{}
	for _, r := range rep.Rejected {
		rel, _ := filepath.Rel(dir, r.Source)
		rejected[rel] = r
	}
	for _, name := range []string{"cat/to-secret.png", "cat/escape"} {
		r, ok := rejected[name]
		if !ok || r.Reason != ReasonOutsideFolder || !strings.Contains(r.Message, "outside the uploaded folder") {
			t.Errorf("%s: %+v, want rejected as %s", name, r, ReasonOutsideFolder)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "rel.png")); err == nil {
		if r := rejected["rel.png"]; r.Reason != ReasonOutsideFolder {
			t.Errorf("relative link out of the tree: %+v", r)
		}
	}
	if r := rejected["dog/dangling.png"]; r.Reason != ReasonUnreadable {
		t.Errorf("dangling link: %+v", r)
	}
	// Nothing from outside was stored: not the secret, not the folder behind the link.
	for _, it := range append(rep.Added, rep.Duplicates...) {
		if strings.Contains(it.Source, "secret") || strings.Contains(it.Source, "escape") || strings.Contains(it.Source, "other") {
			t.Errorf("read outside the tree: %+v", it)
		}
	}
	// Inside the tree, links are followed: real.png added where it is, the link to it a duplicate, the
	// linked folder read under the link's name (and label); the folder already walked is not read twice.
	added := map[string]string{}
	for _, it := range rep.Added {
		rel, _ := filepath.Rel(dir, it.Source)
		added[rel] = it.Label
	}
	if len(added) != 2 || added["cat/real.png"] != "cat" || added["dog/more/kept.png"] != "more" {
		t.Errorf("added %v, want cat/real.png and dog/more/kept.png; rejected %v, dups %v", added, rep.Rejected, rep.Duplicates)
	}
	if len(rep.Duplicates) != 1 || !strings.HasSuffix(rep.Duplicates[0].Source, "dog/alias.png") {
		t.Errorf("duplicates %+v, want dog/alias.png", rep.Duplicates)
	}
	if len(rep.Rejected) != len(rejected) || len(rejected) < 3 {
		t.Errorf("rejected: %v", rep.Rejected)
	}
}

// TestLoadImageChecksTheBlob: a stored blob is checked again when it is decoded (embeddings, galleries):
// one swapped for a pixel bomb after its upload is refused from its header, naming the input.
func TestLoadImageChecksTheBlob(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.png"), encPNG(t, noise(8, 8, 1)))
	st := openStore(t)
	rep := mustRun(t, New(st).Folder(dir))
	in, err := st.Input(context.Background(), rep.Added[0].InputID)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := LoadImage(st, in); err != nil || img.Bounds().Dx() != 8 {
		t.Fatalf("LoadImage: %v %v", img, err)
	}
	if err := os.WriteFile(st.BlobPath(in.SHA256), pixelBombPNG(t, 100000, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadImage(st, in)
	if ReasonOf(err) != ReasonTooManyPixels || !strings.Contains(err.Error(), "a.png") {
		t.Fatalf("LoadImage of a swapped blob: %v", err)
	}
}

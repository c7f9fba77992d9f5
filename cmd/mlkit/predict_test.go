package main

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit"
	"github.com/visionnb/visionnb/mlkit/assets"
	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train"
)

// meanColour is a tiny embedder for CLI tests: the mean R, G, B of the image and a constant.
type meanColour struct{}

const meanColourName = "test_cli_mean_colour"

func (meanColour) Name() string { return meanColourName }
func (meanColour) Dim() int     { return 4 }
func (meanColour) EmbedImages(imgs []image.Image) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	for i, img := range imgs {
		b := img.Bounds()
		var s [3]float64
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				s[0], s[1], s[2] = s[0]+float64(r), s[1]+float64(g), s[2]+float64(bl)
			}
		}
		n := float64(b.Dx()*b.Dy()) * 65535
		out[i] = []float32{float32(s[0] / n), float32(s[1] / n), float32(s[2] / n), 1}
	}
	return out, nil
}

func init() {
	zoo.MustRegister(zoo.Spec{Name: meanColourName, Embedder: func(embed.Options) (embed.Embedder, error) { return meanColour{}, nil }})
}

// tinyModelFolder trains a one-epoch head on the mean-colour embedder and saves it as a model folder.
func tinyModelFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	classes := []string{"dark", "light"}
	var data []train.Embedded
	for i := range 8 {
		v := float32(i % 2)
		data = append(data, train.Embedded{ID: int64(i), Vector: []float32{v, v, v, 1}, Label: i % 2})
	}
	if _, err := train.Head(classes, data, nil).With(train.HeadDefaults().Epochs(1).BatchSize(4).Quiet().OutputDir(dir)).Fit(); err != nil {
		t.Fatal(err)
	}
	card, _ := json.Marshal(mlkit.ModelCard{Name: "tiny", Kind: mlkit.KindHead, Family: "linear", Embedder: meanColourName, Classes: classes})
	if err := os.WriteFile(filepath.Join(dir, mlkit.ModelCardFile), card, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func pngBytes(t *testing.T, seed int64) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 12, 12))
	rand.New(rand.NewSource(seed)).Read(img.Pix)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCLIPredictReportsHostileFiles: `mlkit predict` on a folder holding a pixel bomb (a complete small
// PNG whose header claims 100000x100000 pixels: before, the run died allocating 37 GiB and wrote no CSV),
// a truncated image and a text file writes one CSV row per file, the bad ones skipped with their reason,
// prints the right counts, and exits non-zero only when nothing could be predicted.
func TestCLIPredictReportsHostileFiles(t *testing.T) {
	t.Setenv(assets.CacheEnv, t.TempDir())
	model := tinyModelFolder(t)
	bomb := pngBytes(t, 1)
	binary.BigEndian.PutUint32(bomb[16:], 100000)
	binary.BigEndian.PutUint32(bomb[20:], 100000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	good := pngBytes(t, 2)
	bad := map[string][]byte{"bomb.png": bomb, "truncated.png": good[:len(good)/2], "readme.txt": []byte("@SUM(1+1)*cmd|' /C calc'!A0")}
	folder := t.TempDir()
	for name, data := range bad {
		if err := os.WriteFile(filepath.Join(folder, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Only bad files: a CSV is still written, and the exit status says nothing was predicted.
	out := filepath.Join(t.TempDir(), "preds.csv")
	r := call("predict", "--model", model, "--out", out, folder)
	if r.code == 0 || !strings.Contains(r.stderr, "0 predicted, 3 skipped") {
		t.Errorf("nothing predictable: exit %d, stderr %q", r.code, r.stderr)
	}
	if err := os.WriteFile(filepath.Join(folder, "good.png"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	r = call("predict", "--model", model, "--out", out, folder)
	if r.code != 0 {
		t.Fatalf("predict: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "1 predicted, 3 skipped (1 corrupt, 1 not_image, 1 too_many_pixels)") {
		t.Errorf("summary: %q", r.stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 5 {
		t.Fatalf("csv rows %q: %v", rows, err)
	}
	reasons := map[string]string{}
	for _, row := range rows[1:] {
		reasons[filepath.Base(row[0])] = row[len(row)-3] + "/" + row[len(row)-2]
	}
	want := map[string]string{"good.png": "predicted/", "bomb.png": "skipped/too_many_pixels",
		"truncated.png": "skipped/corrupt", "readme.txt": "skipped/not_image"}
	for name, w := range want {
		if reasons[name] != w {
			t.Errorf("%s: %q, want %q", name, reasons[name], w)
		}
	}
	// A head classifies embeddings: --flip-tta is refused, naming the flag.
	if r := call("predict", "--model", model, "--flip-tta", folder); r.code == 0 || !strings.Contains(r.stderr, "--flip-tta") {
		t.Errorf("predict --flip-tta with a head: exit %d, stderr %q", r.code, r.stderr)
	}
	var js []map[string]any
	decode(t, call("predict", "--model", model, "--json", folder), &js)
	if len(js) != 4 {
		t.Fatalf("json: %v", js)
	}
	for _, row := range js {
		if strings.HasSuffix(row["file"].(string), "bomb.png") && (row["status"] != "skipped" || row["reason"] != "too_many_pixels") {
			t.Errorf("json bomb row %v", row)
		}
	}
}

package mlkit

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/ingest"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train"
)

// countingEmbedder is a tiny deterministic embedder (mean R, G, B and a constant) that counts the images
// it embeds, so tests can tell a cached vector from a recomputed one.
type countingEmbedder struct{}

const countingEmbedderName = "test_counting_embedder"

var countingEmbedded atomic.Int64

func (countingEmbedder) Name() string { return countingEmbedderName }
func (countingEmbedder) Dim() int     { return 4 }
func (countingEmbedder) EmbedImages(imgs []image.Image) ([][]float32, error) {
	countingEmbedded.Add(int64(len(imgs)))
	out := make([][]float32, len(imgs))
	for i, img := range imgs {
		b := img.Bounds()
		var r, g, bl float64
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				cr, cg, cb, _ := img.At(x, y).RGBA()
				r, g, bl = r+float64(cr), g+float64(cg), bl+float64(cb)
			}
		}
		n := float64(b.Dx()*b.Dy()) * 65535
		out[i] = []float32{float32(r / n), float32(g / n), float32(bl / n), 1}
	}
	return out, nil
}

func init() {
	zoo.MustRegister(zoo.Spec{Name: countingEmbedderName, Embedder: func(embed.Options) (embed.Embedder, error) { return countingEmbedder{}, nil }})
}

// tinyHeadModel trains a one-epoch head over the counting embedder's 4-d vectors and saves it, with its
// model card, as a model folder.
func tinyHeadModel(t *testing.T, classes []string) string {
	t.Helper()
	dir := t.TempDir()
	var data []train.Embedded
	for i := range 8 {
		c := i % len(classes)
		data = append(data, train.Embedded{ID: int64(i), Vector: []float32{float32(c), 0.5, float32(1 - c), 1}, Label: c})
	}
	if _, err := train.Head(classes, data, nil).With(train.HeadDefaults().Epochs(1).BatchSize(4).Quiet().OutputDir(dir)).Fit(); err != nil {
		t.Fatal(err)
	}
	if err := writeModelCard(dir, ModelCard{Name: "tiny", Kind: KindHead, Family: "linear", Embedder: countingEmbedderName, Classes: classes}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pixelBombPNG is a complete 73-byte PNG whose header claims w×h pixels: decoded without a header check it
// allocates w×h×4 bytes (37 GiB for 100000×100000) before failing.
func pixelBombPNG(t *testing.T, w, h uint32) []byte {
	data := noisePNG(t, 99)
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

// hostileFolder writes 3 good images and a pixel bomb, a truncated JPEG and a text file.
func hostileFolder(t *testing.T) string {
	dir := t.TempDir()
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, 64, 64)), nil); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"a.png":         noisePNG(t, 1),
		"b.png":         noisePNG(t, 2),
		"sub/c.png":     noisePNG(t, 3),
		"bomb.png":      pixelBombPNG(t, 100000, 100000),
		"truncated.jpg": jb.Bytes()[:jb.Len()/2],
		"notes.txt":     []byte("=HYPERLINK(\"http://evil\")\n"),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPredictFolderSkipsHostileFilesAndCachesEmbeddings: a folder with a pixel bomb, a truncated image and
// a text file predicts the good images, reports each bad one with its reason (the bomb is refused from its
// header instead of allocating 37 GiB), counts them as skipped, and a second run embeds nothing again.
func TestPredictFolderSkipsHostileFilesAndCachesEmbeddings(t *testing.T) {
	classes := []string{"=HYPERLINK(\"http://evil\",\"cat\")", "dog"}
	model := tinyHeadModel(t, classes)
	folder := hostileFolder(t)
	cache := t.TempDir()
	p, err := loadPredictor(model, cache)
	if err != nil {
		t.Fatal(err)
	}
	before := countingEmbedded.Load()
	preds, err := p.PredictFolder(folder)
	if err != nil {
		t.Fatal(err)
	}
	if n := countingEmbedded.Load() - before; n != 3 {
		t.Errorf("first run embedded %d images, want the 3 good ones", n)
	}
	want := map[string]ingest.Reason{"a.png": "", "b.png": "", "sub/c.png": "",
		"bomb.png": ingest.ReasonTooManyPixels, "truncated.jpg": ingest.ReasonCorrupt, "notes.txt": ingest.ReasonNotImage}
	if len(preds) != len(want) {
		t.Fatalf("%d predictions, want %d: %+v", len(preds), len(want), preds)
	}
	for _, pr := range preds {
		rel, _ := filepath.Rel(folder, pr.File)
		reason, ok := want[filepath.ToSlash(rel)]
		switch {
		case !ok:
			t.Errorf("unexpected file %s", pr.File)
		case reason == "" && (pr.Skipped() || pr.Class == "" || len(pr.Probs) != 2):
			t.Errorf("%s: not predicted: %+v", rel, pr)
		case reason != "" && (!pr.Skipped() || pr.Reason != reason || pr.Class != "" || !strings.Contains(pr.Err, rel)):
			t.Errorf("%s: %+v, want skipped as %s with an error naming the file", rel, pr, reason)
		}
	}
	sum := SummarizePredictions(preds)
	if got := sum.String(); got != "3 predicted, 3 skipped (1 corrupt, 1 not_image, 1 too_many_pixels)" {
		t.Errorf("summary %q", got)
	}

	// A second run (a new predictor, as a second `mlkit predict` would load) reads every vector from the
	// content-hash cache: the embedder does not run, and the predictions are the same.
	p2, err := loadPredictor(model, cache)
	if err != nil {
		t.Fatal(err)
	}
	before = countingEmbedded.Load()
	again, err := p2.PredictFolder(folder)
	if err != nil {
		t.Fatal(err)
	}
	if n := countingEmbedded.Load() - before; n != 0 {
		t.Errorf("second run embedded %d images, want 0 (cached by content)", n)
	}
	for i := range again {
		if again[i].File != preds[i].File || again[i].Class != preds[i].Class || again[i].Confidence != preds[i].Confidence {
			t.Errorf("second run differs: %+v vs %+v", again[i], preds[i])
		}
	}

	// The CSV: one row per file, skipped rows say so with their reason, and no cell is a formula.
	var buf bytes.Buffer
	if err := p.WriteCSV(&buf, preds); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := rows[0]
	if strings.Join(header, "|") != "file|predicted|confidence|'"+classes[0]+"|dog|status|reason|error" {
		t.Errorf("header %q", header)
	}
	statuses := map[string]int{}
	for _, r := range rows[1:] {
		for _, cell := range r {
			if cell != "" && strings.ContainsRune("=+@", rune(cell[0])) {
				t.Errorf("formula cell %q in row %q", cell, r)
			}
		}
		statuses[r[5]]++
		if strings.HasSuffix(r[0], "bomb.png") && (r[5] != "skipped" || r[6] != "too_many_pixels" || r[1] != "") {
			t.Errorf("bomb row %q", r)
		}
	}
	if statuses["predicted"] != 3 || statuses["skipped"] != 3 {
		t.Errorf("statuses %v", statuses)
	}
}

// TestExportDatasetCSVNeutralisesFormulas: labels and file names come from users; the exported CSV
// must not hand a spreadsheet a formula.
func TestExportDatasetCSVNeutralisesFormulas(t *testing.T) {
	t.Setenv(HomeEnv, t.TempDir())
	photos := t.TempDir()
	for i := range 6 {
		class := []string{"=cmd", "@sum"}[i%2]
		p := filepath.Join(photos, class, fmt.Sprintf("+%d.png", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, noisePNG(t, int64(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app, err := Create("csv")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Upload().Folder(photos).LabelsFromFolders().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Split("d", Counts(4, 1, 1).WithSeed(1)); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if n, err := app.ExportDataset("d", out); err != nil || n != 6 {
		t.Fatalf("exported %d: %v", n, err)
	}
	f, err := os.Open(filepath.Join(out, "dataset.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 7 {
		t.Fatalf("rows %q: %v", rows, err)
	}
	for _, r := range rows[1:] {
		if r[3] != "'=cmd" && r[3] != "'@sum" {
			t.Errorf("label cell %q not neutralised", r[3])
		}
		for _, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("formula cell %q in %q", cell, r)
			}
		}
	}
}

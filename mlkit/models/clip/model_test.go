package clip

import (
	"encoding/binary"
	"encoding/json"
	"image"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/assets"
)

const tinyDir = "testdata/tiny"

type tinyExpected struct {
	Prompts            []string        `json:"prompts"`
	InputIDs           [][]int         `json:"input_ids"`
	TextFeatures       [][]float64     `json:"text_features"`
	TextEmbeds         [][]float64     `json:"text_embeds"`
	FloatPixels        [][][][]float32 `json:"float_pixels_nchw"`
	FloatImageFeatures [][]float64     `json:"float_image_features"`
	FloatImageEmbeds   [][]float64     `json:"float_image_embeds"`
	FloatLogits        [][]float64     `json:"float_logits_per_image"`
	RawImages          []string        `json:"raw_images"`
	RawPixels          [][][][]float32 `json:"raw_pixels_nchw"`
	RawImageFeatures   [][]float64     `json:"raw_image_features"`
	RawImageEmbeds     [][]float64     `json:"raw_image_embeds"`
	RawLogits          [][]float64     `json:"raw_logits_per_image"`
	LogitScale         float64         `json:"logit_scale"`
}

func loadTinyExpected(t testing.TB) tinyExpected {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tinyDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e tinyExpected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

var tinyModel struct {
	m   *Model
	err error
}

func loadTiny(t testing.TB) *Model {
	t.Helper()
	if tinyModel.m == nil && tinyModel.err == nil {
		l := NewLoader(tinyDir)
		if p, ok := assets.SharedPath("models", "clip_tokenizer"); ok {
			l = l.Tokenizer(p)
		}
		tinyModel.m, tinyModel.err = l.Load()
	}
	if tinyModel.err != nil {
		t.Fatal(tinyModel.err)
	}
	return tinyModel.m
}

// nchwToNHWC flattens [3][h][w] into channels-last order.
func nchwToNHWC(img [][][]float32) []float32 {
	c, h, w := len(img), len(img[0]), len(img[0][0])
	out := make([]float32, 0, c*h*w)
	for y := range h {
		for x := range w {
			for ch := range c {
				out = append(out, img[ch][y][x])
			}
		}
	}
	return out
}

func maxAbsDiff(t *testing.T, what string, got [][]float32, want [][]float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s row %d: %d values, want %d", what, i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			worst = math.Max(worst, math.Abs(float64(got[i][j])-want[i][j]))
		}
	}
	return worst
}

func checkClose(t *testing.T, what string, got [][]float32, want [][]float64, tol float64) {
	t.Helper()
	d := maxAbsDiff(t, what, got, want)
	t.Logf("%s: max abs error %.3g", what, d)
	if d > tol {
		t.Errorf("%s: max abs error %.3g > %.g", what, d, tol)
	}
}

func openPNG(t testing.TB, name string) image.Image {
	t.Helper()
	f, err := os.Open(filepath.Join(tinyDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPreprocessMatchesCLIPImageProcessor(t *testing.T) {
	exp := loadTinyExpected(t)
	pc, err := ReadPreprocessConfig(tinyDir, 32)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range exp.RawImages {
		got, err := pc.Preprocess(openPNG(t, name))
		if err != nil {
			t.Fatal(err)
		}
		want := nchwToNHWC(exp.RawPixels[i])
		worst := 0.0
		for k := range want {
			worst = math.Max(worst, math.Abs(float64(got[k]-want[k])))
		}
		if worst > 1e-6 {
			t.Errorf("%s: preprocessed pixels differ from CLIPImageProcessor by up to %g", name, worst)
		}
	}
	// The default ViT-B/32 preprocessing (300x241 -> shortest edge 224 -> crop 224) on a larger image.
	raw, err := os.ReadFile(filepath.Join(tinyDir, "preprocess_224_img_large.bin"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DefaultPreprocessConfig(224).Preprocess(openPNG(t, "img_large.png"))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 4*len(got) {
		t.Fatalf("reference has %d floats, got %d", len(raw)/4, len(got))
	}
	bad, worst := 0, 0.0
	for c := range 3 {
		for y := range 224 {
			for x := range 224 {
				want := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(c*224*224+y*224+x):]))
				d := math.Abs(float64(got[3*(y*224+x)+c] - want))
				worst = math.Max(worst, d)
				if d > 1e-6 {
					bad++
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("224 px preprocessing: %d values differ from CLIPImageProcessor, by up to %g", bad, worst)
	}
}

func TestResizeShortestEdge(t *testing.T) {
	for _, c := range []struct{ w, h, s, ww, wh int }{{300, 241, 224, 278, 224}, {50, 40, 32, 40, 32}, {37, 61, 32, 32, 52}, {224, 224, 224, 224, 224}} {
		if w, h := ResizeShortestEdge(c.w, c.h, c.s); w != c.ww || h != c.wh {
			t.Errorf("ResizeShortestEdge(%d,%d,%d) = %d,%d, want %d,%d", c.w, c.h, c.s, w, h, c.ww, c.wh)
		}
	}
}

func TestParityFloatPixels(t *testing.T) {
	exp := loadTinyExpected(t)
	m := loadTiny(t)
	if math.Abs(float64(m.LogitScale())-math.Exp(exp.LogitScale)) > 1e-4 {
		t.Errorf("LogitScale = %v, want exp(%v)", m.LogitScale(), exp.LogitScale)
	}
	pix := make([][]float32, len(exp.FloatPixels))
	for i, p := range exp.FloatPixels {
		pix[i] = nchwToNHWC(p)
	}
	feats, err := m.ImageFeaturesFromPixels(pix, 32)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "image features (float pixels)", feats, exp.FloatImageFeatures, 1e-4)
	emb := normalizeRows(feats)
	checkClose(t, "image embeds (float pixels)", emb, exp.FloatImageEmbeds, 1e-4)
	txt, err := m.TextFeaturesFromIDs(exp.InputIDs)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "text features (ids)", txt, exp.TextFeatures, 1e-4)
	checkClose(t, "text embeds (ids)", normalizeRows(txt), exp.TextEmbeds, 1e-4)
	checkClose(t, "logits per image (float pixels)", m.Logits(emb, txt), exp.FloatLogits, 1e-3)
}

func TestParityRawImagesAndPrompts(t *testing.T) {
	exp := loadTinyExpected(t)
	m := loadTiny(t)
	imgs := make([]image.Image, len(exp.RawImages))
	for i, n := range exp.RawImages {
		imgs[i] = openPNG(t, n)
	}
	emb, err := m.EmbedImages(imgs)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "image embeds (raw images)", emb, exp.RawImageEmbeds, 1e-4)
	if tok, _ := m.Tokenizer(); tok == nil {
		t.Skip("skipping the prompt half: no CLIP tokenizer (shared models/clip_tokenizer)")
	}
	txt, err := m.EmbedTexts(exp.Prompts)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "text embeds (prompts)", txt, exp.TextEmbeds, 1e-4)
	checkClose(t, "logits per image (raw images)", m.Logits(emb, txt), exp.RawLogits, 1e-3)
	if m.Dim() != 16 || !strings.HasPrefix(m.Name(), "clip:") {
		t.Errorf("Dim %d, Name %q", m.Dim(), m.Name())
	}
	// Batching must not change results: embed one at a time.
	for i := range imgs {
		one, err := m.EmbedImages(imgs[i : i+1])
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, "image embed alone", one, exp.RawImageEmbeds[i:i+1], 1e-4)
	}
}

func TestLoadRejectsMismatchedConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(tinyDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(cfg), `"intermediate_size": 64`, `"intermediate_size": 65`, 1)
	if bad == string(cfg) {
		t.Fatal("fixture config.json changed: cannot build the mismatch")
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile(filepath.Join(tinyDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), st, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewLoader(dir).Load()
	if err == nil || !strings.Contains(err.Error(), "fc1.weight") {
		t.Errorf("want an error naming the mismatched fc1 weights, got %v", err)
	}
	if _, err := NewLoader(t.TempDir()).Load(); err == nil {
		t.Error("loading an empty folder should fail")
	}
}

func TestClose(t *testing.T) {
	m, err := NewLoader(tinyDir).Load()
	if err != nil {
		t.Fatal(err)
	}
	img := []image.Image{openPNG(t, "img_c.png")}
	if _, err := m.EmbedImages(img); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := m.EmbedImages(img); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("EmbedImages after Close: want a 'closed' error, got %v", err)
	}
}

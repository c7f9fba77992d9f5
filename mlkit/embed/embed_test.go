package embed

import (
	"encoding/binary"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/visionnb/visionnb/mlkit/internal/testshared"
)

func TestBatchesAndNormalize(t *testing.T) {
	var ranges [][2]int
	var prog []int
	err := Batches(7, 3, func(done, total int) { prog = append(prog, done*100+total) }, func(s, e int) error {
		ranges = append(ranges, [2]int{s, e})
		return nil
	})
	if err != nil || len(ranges) != 3 || ranges[2] != [2]int{6, 7} || !slices.Equal(prog, []int{307, 607, 707}) {
		t.Errorf("ranges %v progress %v err %v", ranges, prog, err)
	}
	boom := errors.New("boom")
	if err := Batches(5, 2, nil, func(s, e int) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("error not propagated: %v", err)
	}
	v := []float32{3, 4}
	L2Normalize(v)
	if v[0] != 0.6 || v[1] != 0.8 {
		t.Errorf("L2Normalize = %v", v)
	}
	if c := Cosine([]float32{1, 0}, []float32{1, 1}); math.Abs(c-math.Sqrt(0.5)) > 1e-12 {
		t.Errorf("Cosine = %g", c)
	}
}

func TestMissingWeightsMessage(t *testing.T) {
	t.Setenv("MLKIT_SHARED", filepath.Join(t.TempDir(), "nowhere"))
	t.Setenv("MLKIT_CACHE", t.TempDir())
	b, err := backends.NewWithConfig("go")
	if err != nil {
		t.Skip(err)
	}
	_, err = NewMobileNetV2(NewOptions().WithWidth(0.35).WithOffline(true).WithBackend(b))
	if err == nil {
		t.Fatal("no error without any weights")
	}
	for _, want := range []string{"WithDir", "MLKIT_SHARED", "MLKIT_CACHE", "storage.googleapis.com"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
	if _, err := NewMobileNetV2(NewOptions().WithWidth(0.35).WithDir(t.TempDir())); err == nil || !strings.Contains(err.Error(), "model.json") {
		t.Errorf("folder without model.json: %v", err)
	}
}

// fixtureImages returns the four 224x224 parity images of the mobilenetv2 package and their
// TensorFlow.js embeddings.
func fixtureImages(t *testing.T) ([]image.Image, [][]float32) {
	t.Helper()
	td := filepath.Join("..", "models", "mobilenetv2", "testdata")
	u8, err := os.ReadFile(filepath.Join(td, "inputs.u8"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(td, "embeddings.f32"))
	if err != nil {
		t.Fatal(err)
	}
	const s = 224
	var imgs []image.Image
	var want [][]float32
	for i := 0; i < len(u8)/(s*s*3); i++ {
		img := image.NewNRGBA(image.Rect(0, 0, s, s))
		px := u8[i*s*s*3:]
		for p := range s * s {
			copy(img.Pix[4*p:], px[3*p:3*p+3])
			img.Pix[4*p+3] = 255
		}
		imgs = append(imgs, img)
		v := make([]float32, 1280)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(i*1280+j):]))
		}
		want = append(want, v)
	}
	return imgs, want
}

func TestMobileNetV2MatchesReference(t *testing.T) {
	testshared.MobileNetV2(t)
	imgs, want := fixtureImages(t)
	b, err := backends.NewWithConfig("go")
	if err != nil {
		t.Skip(err)
	}
	var done []int
	// Batch 3 for 4 images: two batches, the last padded, results in input order.
	e, err := NewMobileNetV2(NewOptions().WithWidth(0.35).WithBackend(b).WithBatchSize(3).WithProgress(func(d, _ int) { done = append(done, d) }))
	if err != nil {
		t.Fatal(err)
	}
	if e.Name() != MobileNetV2035 || e.Dim() != 1280 {
		t.Errorf("name %q dim %d", e.Name(), e.Dim())
	}
	got, err := e.EmbedImages(imgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || !slices.Equal(done, []int{3, 4}) {
		t.Fatalf("%d vectors, progress %v", len(got), done)
	}
	var maxErr float64
	for i := range want {
		for j := range want[i] {
			maxErr = math.Max(maxErr, math.Abs(float64(got[i][j]-want[i][j])))
		}
	}
	t.Logf("max abs error vs TensorFlow.js: %.3g", maxErr)
	if maxErr > 1e-4 {
		t.Errorf("max abs error %.3g > 1e-4", maxErr)
	}

	// Normalised: unit vectors, same directions; shares the compiled model.
	en, err := NewMobileNetV2(NewOptions().WithWidth(0.35).WithBackend(b).WithBatchSize(3).Normalized())
	if err != nil {
		t.Fatal(err)
	}
	if en.model != e.model {
		t.Error("second embedder with the same settings did not reuse the compiled model")
	}
	gn, err := en.EmbedImages(imgs[:2])
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range gn {
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-5 || Cosine(v, want[i]) < 0.99999 {
			t.Errorf("normalised vector %d: |v|^2 = %g, cosine to reference %g", i, n, Cosine(v, want[i]))
		}
	}
	if _, err := NewMobileNetV2(NewOptions().WithBackend(b).WithWidth(1.0).WithDir(testshared.MobileNetV2(t))); err == nil {
		t.Error("alpha 1.0 accepted alpha 0.35 weights")
	}
}

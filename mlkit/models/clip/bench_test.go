package clip

import (
	"fmt"
	"image"
	"syscall"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit/backend"
)

func logBackend(b *testing.B) {
	_, info, err := backend.Default()
	b.Logf("backend %q (%s), err %v", info.Name, info.Reason, err)
}

// cpuTime returns the CPU time (user + system) this process has used: a measure that stays meaningful
// when other processes compete for the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchImages(b *testing.B, m *Model, n int) {
	imgs := make([]image.Image, n)
	for i := range imgs {
		imgs[i] = openPNG(b, []string{"img_a.png", "img_b.png", "img_c.png", "img_large.png"}[i%4])
	}
	if _, err := m.EmbedImages(imgs); err != nil { // compile outside the timing.
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := m.EmbedImages(imgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(n*b.N), "cpu-s/img")
}

func benchTexts(b *testing.B, m *Model, n int) {
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("a photo of a %s, number %d", []string{"dog", "cat", "horse", "sheep", "butterfly"}[i%5], i)
	}
	if _, err := m.EmbedTexts(texts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := m.EmbedTexts(texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "texts/s")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(n*b.N), "cpu-s/text")
}

// BenchmarkTinyImages measures the tiny test model (32 px) end to end, preprocessing included.
func BenchmarkTinyImages(b *testing.B) { logBackend(b); benchImages(b, loadTiny(b), 16) }

// BenchmarkTinyTexts measures the tiny test model's text tower, tokenization included.
func BenchmarkTinyTexts(b *testing.B) { logBackend(b); benchTexts(b, loadTiny(b), 16) }

func vitB32(b *testing.B, batch int) *Model {
	m, err := NewLoader(b.TempDir()).RandomWeights(ViTB32Config()).BatchSize(batch).Name("clip:vit-b32-random").Load()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkViTB32Images runs the full-size ViT-B/32 vision tower (random weights, 224 px, batch 8).
func BenchmarkViTB32Images(b *testing.B) { logBackend(b); benchImages(b, vitB32(b, 8), 8) }

// BenchmarkViTB32Texts runs the full-size text tower (random weights, batch 16).
func BenchmarkViTB32Texts(b *testing.B) { logBackend(b); benchTexts(b, vitB32(b, 16), 16) }

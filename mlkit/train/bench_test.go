package train

import (
	"fmt"
	"testing"

	"github.com/visionnb/visionnb/mlkit/models"
)

// BenchmarkHead fits a head on 500 cached 1280-d embeddings for 20 epochs (compilation included, as a
// user sees it), linear and with a 256-unit hidden layer, with each matrix-product mode.
func BenchmarkHead(b *testing.B) {
	be := testBackend(b)
	tr, va := blobs(1, 500, 1280, 5, 2), blobs(2, 100, 1280, 5, 2)
	for _, mode := range []string{"product", "dot", "conv"} {
		if mode == "conv" && ConvGradientSupported(be) != nil {
			continue
		}
		for _, hidden := range []int{0, 256} {
			b.Run(fmt.Sprintf("%s/hidden=%d", mode, hidden), func(b *testing.B) {
				for b.Loop() {
					res, err := Head(classNames(5), tr, va).MatMul(mode).Hidden(hidden).
						With(HeadDefaults().Backend(be).Epochs(20).Quiet()).Fit()
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(res.History[len(res.History)-1].ExamplesPerSecond, "train-ex/s")
				}
			})
		}
	}
}

// BenchmarkDeepSmallCNN trains the test CNN for 2 epochs on 40 real photos at 32 and 64 px.
func BenchmarkDeepSmallCNN(b *testing.B) {
	if err := ConvGradientSupported(testBackend(b)); err != nil {
		b.Skip(err)
	}
	classes, trainSet, valSet := animals(b, 8, 2)
	cache := b.TempDir()
	for _, size := range []int{32, 64} {
		b.Run(fmt.Sprintf("px=%d", size), func(b *testing.B) {
			for b.Loop() {
				res, err := Deep(testSmallCNN, models.New().Size(size)).Data(classes, trainSet, valSet).CacheDir(cache).
					With(DeepDefaults().Backend(testBackend(b)).Epochs(2).BatchSize(8).Quiet()).Fit()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.History[1].ExamplesPerSecond, "img/s")
			}
		})
	}
}

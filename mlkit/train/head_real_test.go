package train

import (
	"math"
	"testing"

	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// colourHistograms embeds real photos as normalised 8x8x8 joint RGB histograms (512-d): a weak but real
// embedding, enough to check the head on real data without a pretrained network.
func colourHistograms(t *testing.T, data []Example) []Embedded {
	t.Helper()
	paths := make([]string, len(data))
	for i, e := range data {
		paths[i] = e.Path
	}
	px, err := pipeline.Cache{Dir: t.TempDir()}.LoadAll(paths, 48)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Embedded, len(data))
	for i, p := range px {
		v := make([]float32, 512)
		for j := 0; j < len(p); j += 3 {
			v[int(p[j]>>5)*64+int(p[j+1]>>5)*8+int(p[j+2]>>5)]++
		}
		for k := range v {
			v[k] = float32(math.Sqrt(float64(v[k]) / float64(len(p)/3))) // Hellinger-style scaling.
		}
		out[i] = Embedded{ID: data[i].ID, Vector: v, Label: data[i].Label}
	}
	return out
}

func TestHeadRealPhotos(t *testing.T) {
	classes, trainEx, valEx := animals(t, 60, 20)
	trainSet, valSet := colourHistograms(t, trainEx), colourHistograms(t, valEx)
	res, err := Head(classes, trainSet, valSet).Hidden(64).Dropout(0.2).
		With(HeadDefaults().Backend(testBackend(t)).LR(3e-3).Epochs(30).EarlyStopping(5).Seed(1).Quiet()).Fit()
	if err != nil {
		t.Fatal(err)
	}
	best := res.History[res.BestEpoch-1]
	t.Logf("colour-histogram head on %d real photos: best epoch %d of %d, validation accuracy %.3f (chance 0.2)",
		len(trainSet), res.BestEpoch, len(res.History), best.ValAccuracy)
	if best.ValAccuracy < 0.32 {
		t.Errorf("validation accuracy %.3f on real photos, want >= 0.32 (chance is 0.2, 3 sigma above with 100 examples)", best.ValAccuracy)
	}
}

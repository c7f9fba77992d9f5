package train

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/visionnb/visionnb/mlkit/models"
)

// gammaSample's mean and variance are a and a (Gamma(a, 1)), below and above a = 1.
func TestGammaSampleMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, a := range []float64{0.2, 0.4, 1, 3} {
		const n = 200000
		var sum, sq float64
		for range n {
			x := gammaSample(r, a)
			if !(x >= 0) {
				t.Fatalf("Gamma(%v) drew %v", a, x)
			}
			sum += x
			sq += x * x
		}
		mean := sum / n
		variance := sq/n - mean*mean
		if math.Abs(mean-a) > 0.02*math.Max(a, 1) || math.Abs(variance-a) > 0.06*math.Max(a, 1) {
			t.Errorf("Gamma(%v): mean %.4f variance %.4f, want both %v", a, mean, variance, a)
		}
	}
}

// mixupLambda is in [0.5, 1], a function of its arguments only, and follows the folded Beta: for alpha = 1
// (uniform lambda) its mean is 0.75; for alpha = 0.2 most batches stay close to one image.
func TestMixupLambda(t *testing.T) {
	if mixupLambda(0.4, 7, 3, 11) != mixupLambda(0.4, 7, 3, 11) {
		t.Fatal("mixupLambda is not reproducible")
	}
	for _, c := range []struct {
		alpha, mean, tol float64
	}{{1, 0.75, 0.01}, {0.2, 0.899, 0.01}} { // E[max(L, 1-L)] for L ~ Beta(0.2, 0.2): 0.899 (numerical integration).
		var sum float64
		const n = 20000
		differs := 0
		for i := range n {
			l := mixupLambda(c.alpha, 1, i/100, i%100)
			if l < 0.5 || l > 1 {
				t.Fatalf("alpha %v: lambda %v outside [0.5, 1]", c.alpha, l)
			}
			if l != mixupLambda(c.alpha, 2, i/100, i%100) {
				differs++
			}
			sum += l
		}
		if m := sum / n; math.Abs(m-c.mean) > c.tol {
			t.Errorf("alpha %v: mean lambda %.4f, want %.3f", c.alpha, m, c.mean)
		}
		if differs < n*9/10 {
			t.Errorf("alpha %v: another seed changed only %d of %d lambdas", c.alpha, differs, n)
		}
	}
}

// mixGraph blends example i with example batch-1-i, lambda per example, broadcast over the other axes.
func TestMixGraph(t *testing.T) {
	b := testBackend(t)
	x := [][][]float32{{{1, 2}}, {{10, 20}}, {{100, 200}}} // [3, 1, 2]
	lam := []float32{1, 0.5, 0.75}
	got := graph.MustExecOnce(b, mixGraph, x, lam).Value().([][][]float32)
	want := [][][]float32{{{1, 2}}, {{10, 20}}, {{0.75*100 + 0.25*1, 0.75*200 + 0.25*2}}}
	for i := range want {
		for j := range want[i][0] {
			if math.Abs(float64(got[i][0][j]-want[i][0][j])) > 1e-4 {
				t.Fatalf("mixGraph = %v, want %v", got, want)
			}
		}
	}
}

// A run with mixup trains on blended batches: it still separates separable blobs, its training loss stays
// above the unmixed run's (blended targets cannot be fitted exactly), it is reproducible, and config.json
// records alpha.
func TestHeadMixup(t *testing.T) {
	b := testBackend(t)
	classes := classNames(3)
	trainSet, valSet := blobs(5, 240, 16, 3, 0.5), blobs(6, 60, 16, 3, 0.5)
	fit := func(alpha float64) *Result {
		res, err := Head(classes, trainSet, valSet).
			With(HeadDefaults().Backend(b).Epochs(30).LR(1e-2).Seed(4).Mixup(alpha).Quiet()).Fit()
		if err != nil {
			t.Fatalf("mixup %v: %v", alpha, err)
		}
		return res
	}
	plain, mixed, again := fit(0), fit(0.4), fit(0.4)
	lp, lm := plain.History[len(plain.History)-1], mixed.History[len(mixed.History)-1]
	t.Logf("plain: train loss %.4f val acc %.3f; mixup 0.4: train loss %.4f val acc %.3f", lp.TrainLoss, lp.ValAccuracy, lm.TrainLoss, lm.ValAccuracy)
	if lm.ValAccuracy < 0.95 || lp.ValAccuracy < 0.95 {
		t.Errorf("validation accuracy: plain %.3f, mixup %.3f, want both >= 0.95", lp.ValAccuracy, lm.ValAccuracy)
	}
	if lm.TrainLoss < lp.TrainLoss+0.05 {
		t.Errorf("final training loss with mixup %.4f, without %.4f: the batches were not blended", lm.TrainLoss, lp.TrainLoss)
	}
	if la := again.History[len(again.History)-1]; la.TrainLoss != lm.TrainLoss {
		t.Errorf("mixup run repeated: training loss %v, then %v", lm.TrainLoss, la.TrainLoss)
	}
	if got := mixed.Predictor.Config().Mixup; got != 0.4 {
		t.Errorf("config records mixup %v, want 0.4", got)
	}
}

// cutMixBox is reproducible, inside the image, and its lam is the share outside the box; for alpha = 1
// (uniform lambda) the box covers about a third of the image on average (E[1-lambda] = 1/2 before
// clipping at the borders).
func TestCutMixBox(t *testing.T) {
	a0, a1, a2, a3, al := cutMixBox(1, 7, 3, 11, 32, 48)
	b0, b1, b2, b3, bl := cutMixBox(1, 7, 3, 11, 32, 48)
	if a0 != b0 || a1 != b1 || a2 != b2 || a3 != b3 || al != bl {
		t.Fatal("cutMixBox is not reproducible")
	}
	var sum float64
	const n = 20000
	for i := range n {
		y0, y1, x0, x1, lam := cutMixBox(1, 1, i/100, i%100, 32, 48)
		if y0 < 0 || y1 > 32 || x0 < 0 || x1 > 48 || y0 > y1 || x0 > x1 {
			t.Fatalf("box [%d,%d)x[%d,%d) outside a 32x48 image", y0, y1, x0, x1)
		}
		if want := 1 - float64((y1-y0)*(x1-x0))/(32*48); lam != want {
			t.Fatalf("lam %v, want the share outside the box %v", lam, want)
		}
		sum += 1 - lam
	}
	if m := sum / n; m < 0.25 || m > 0.42 {
		t.Errorf("mean box share %.3f, want about a third", m)
	}
}

// cutMixGraph takes the mirrored example's pixels inside the box and keeps its own outside.
func TestCutMixGraph(t *testing.T) {
	b := testBackend(t)
	x := make([]float32, 2*2*3*1) // [2 examples, 2x3, 1 channel]: example 0 all 1, example 1 all 5
	for i := range x {
		x[i] = 1
		if i >= 6 {
			x[i] = 5
		}
	}
	box := []float32{0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0} // the same box in both examples
	got := graph.MustExecOnce(b, cutMixGraph, tensors.FromFlatDataAndDimensions(x, 2, 2, 3, 1),
		tensors.FromFlatDataAndDimensions(box, 2, 2, 3))
	flat := tensors.MustCopyFlatData[float32](got)
	want := []float32{1, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, 5}
	for i := range want {
		if flat[i] != want[i] {
			t.Fatalf("cutMixGraph = %v, want %v", flat, want)
		}
	}
}

// A deep run with cutmix trains (its loss falls), is reproducible and records alpha; a head refuses it, and
// cutmix with mixup is an error.
func TestDeepCutMix(t *testing.T) {
	classes, trainSet, valSet := animals(t, 8, 2)
	fit := func() *Result {
		res, err := Deep(testDenseFamily, models.New().Size(32)).Data(classes, trainSet, valSet).CacheDir(t.TempDir()).
			With(DeepDefaults().Backend(testBackend(t)).LR(1e-3).Epochs(6).BatchSize(8).Seed(1).CutMix(1).Quiet()).Fit()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res, again := fit(), fit()
	h := res.History
	if !(h[len(h)-1].TrainLoss < h[0].TrainLoss) {
		t.Errorf("training loss with cutmix did not fall: %v -> %v", h[0].TrainLoss, h[len(h)-1].TrainLoss)
	}
	if a := again.History[len(h)-1].TrainLoss; a != h[len(h)-1].TrainLoss {
		t.Errorf("cutmix run repeated: training loss %v, then %v", h[len(h)-1].TrainLoss, a)
	}
	if got := res.Predictor.Config().CutMix; got != 1 {
		t.Errorf("config records cutmix %v, want 1", got)
	}
	_, err := Head(classNames(3), blobs(5, 30, 4, 3, 0.5), nil).With(HeadDefaults().Backend(testBackend(t)).Epochs(1).CutMix(1).Quiet()).Fit()
	if err == nil || !strings.Contains(err.Error(), "cutmix") {
		t.Errorf("a head with cutmix: %v, want an error naming cutmix", err)
	}
	if err := DeepDefaults().Mixup(0.2).CutMix(1).Settings.validate(); err == nil {
		t.Errorf("mixup and cutmix together validated")
	}
}

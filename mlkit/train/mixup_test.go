package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
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

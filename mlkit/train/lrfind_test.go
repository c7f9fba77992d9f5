package train

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/models"
)

// checkSweep checks what every range test must give: learning rates rising exponentially from the start,
// finite smoothed losses, a suggestion taken from the series.
func checkSweep(t *testing.T, res *LRFindResult, o LRFindOptions) {
	t.Helper()
	if len(res.LRs) < 2 || len(res.LRs) != len(res.Losses) || len(res.LRs) != len(res.RawLosses) {
		t.Fatalf("series lengths: %d lrs, %d losses, %d raw", len(res.LRs), len(res.Losses), len(res.RawLosses))
	}
	if math.Abs(res.LRs[0]-o.StartLR) > 1e-3*o.StartLR {
		t.Errorf("first learning rate %v, want %v", res.LRs[0], o.StartLR)
	}
	ratio := math.Pow(o.EndLR/o.StartLR, 1/float64(o.Steps))
	for i := 1; i < len(res.LRs); i++ {
		if !(res.LRs[i] > res.LRs[i-1]) {
			t.Fatalf("learning rates not increasing at %d: %v then %v", i, res.LRs[i-1], res.LRs[i])
		}
		if r := res.LRs[i] / res.LRs[i-1]; math.Abs(r-ratio) > 1e-3*ratio {
			t.Errorf("step %d: ratio %v between learning rates, want %v (exponential sweep)", i, r, ratio)
		}
	}
	for i, l := range res.Losses {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			t.Fatalf("smoothed loss %d is %v", i, l)
		}
	}
	found := false
	for _, lr := range res.LRs {
		found = found || lr == res.Suggestion
	}
	if !found || res.Suggestion != res.Valley {
		t.Errorf("suggestion %v is not the valley %v taken from the series", res.Suggestion, res.Valley)
	}
}

func TestLRFindHead(t *testing.T) {
	b := testBackend(t)
	classes := classNames(3)
	out := filepath.Join(t.TempDir(), "model")
	o := DefaultLRFind()
	res, err := Head(classes, blobs(1, 300, 32, 3, 1.5), blobs(2, 60, 32, 3, 1.5)).
		With(HeadDefaults().Backend(b).BatchSize(16).Seed(3).OutputDir(out)).LRFind(o)
	if err != nil {
		t.Fatal(err)
	}
	checkSweep(t, res, o)
	t.Logf("head: %d steps, stopped by %s, valley %.3g, steep %.3g", len(res.LRs), res.Stopped, res.Valley, res.Steep)
	// Adam on a linear head on separable blobs learns well from ~1e-3 to ~1e-1.
	if !(res.Suggestion >= 1e-4 && res.Suggestion <= 1) {
		t.Errorf("suggested learning rate %v outside the sane range [1e-4, 1]", res.Suggestion)
	}
	if !(res.Steep >= res.LRs[0] && res.Steep <= res.LRs[len(res.LRs)-1]) {
		t.Errorf("steepest learning rate %v outside the sweep", res.Steep)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the range test created the output folder %s (stat: %v)", out, err)
	}
}

func TestLRFindDeepSavesNothing(t *testing.T) {
	goBackend, err := backend.Named("mlkitgo")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []backends.Backend{testBackend(t), goBackend} {
		t.Run(b.Name(), func(t *testing.T) { lrFindDeep(t, b) })
	}
}

func lrFindDeep(t *testing.T, b backends.Backend) {
	classes, trainSet, valSet := animals(t, 8, 2)
	out := filepath.Join(t.TempDir(), "model")
	o := LRFindOptions{StartLR: 1e-6, Steps: 30}
	res, err := Deep(testDenseFamily, models.New().Size(32)).Data(classes, trainSet, valSet).CacheDir(t.TempDir()).
		With(DeepDefaults().Backend(b).BatchSize(8).Seed(1).OutputDir(out)).LRFind(o)
	if err != nil {
		t.Fatal(err)
	}
	o, _ = o.withDefaults()
	checkSweep(t, res, o)
	t.Logf("deep: %d steps, stopped by %s, valley %.3g, steep %.3g", len(res.LRs), res.Stopped, res.Valley, res.Steep)
	// Adam at learning rates near 10 on a dense layer over raw pixels diverges: the sweep stops there.
	if res.Stopped != "diverged" || len(res.LRs) >= o.Steps {
		t.Errorf("sweep to LR 10 ran %d of %d steps, stopped by %q; want it stopped by divergence; losses %v", len(res.LRs), o.Steps, res.Stopped, res.Losses)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the range test created the output folder %s (stat: %v)", out, err)
	}
}

func TestLRFindOptionsChecked(t *testing.T) {
	for _, o := range []LRFindOptions{{StartLR: 1, EndLR: 0.1}, {Steps: 1}, {Beta: 1}, {StopFactor: 0.5}, {StartLR: -1}} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestSuggestLR(t *testing.T) {
	// A loss curve flat, then falling between steps 30 and 60, then rising: the valley lies in the fall,
	// and so does the steepest point.
	var lrs, losses []float64
	for i := range 100 {
		lrs = append(lrs, 1e-7*math.Pow(1e8, float64(i)/100))
		switch {
		case i < 30:
			losses = append(losses, 2)
		case i < 60:
			losses = append(losses, 2-float64(i-30)/30)
		default:
			losses = append(losses, 1+float64(i-60)/10)
		}
	}
	valley, steep := suggestLR(lrs, losses, 100)
	if !(valley > lrs[30] && valley < lrs[60]) {
		t.Errorf("valley %v outside the falling stretch (%v, %v)", valley, lrs[30], lrs[60])
	}
	if !(steep >= lrs[29] && steep < lrs[60]) {
		t.Errorf("steep %v outside the falling stretch", steep)
	}
}

// TestLRFindFineTuneStartsFromPretrained: the fine-tuning range test sweeps the unfrozen phase from the
// pretrained backbone and the frozen phase's trained head, so its first losses are those of a model that
// already separates the classes, far below a fresh model's; it writes no output folder.
func TestLRFindFineTuneStartsFromPretrained(t *testing.T) {
	path := writeState(t, tinyState(1))
	data := colourImages(t, 12, 3)
	tr, va := data[:16], data[16:]
	out := filepath.Join(t.TempDir(), "model")
	o := LRFindOptions{StartLR: 1e-7, EndLR: 1e-3, Steps: 12}
	ft, err := FineTune(tinyConvFT, models.New().Size(16)).Data([]string{"red", "blue"}, tr, va).Weights(path).
		FrozenOptions(FrozenDefaults().LR(0.05).Epochs(60)).NoAugment().
		With(FineTuneDefaults().BatchSize(8).Seed(1).Backend(testBackend(t)).OutputDir(out)).LRFind(o)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Deep(tinyConvFT, models.New().Size(16)).Data([]string{"red", "blue"}, tr, va).NoAugment().CacheDir(t.TempDir()).
		With(DeepDefaults().BatchSize(8).Seed(1).Backend(testBackend(t)).Quiet()).LRFind(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first raw losses: fine-tuning %.3f, fresh %.3f; suggestion %.3g", ft.RawLosses[0], fresh.RawLosses[0], ft.Suggestion)
	// The frozen phase reaches a training loss of ~0.15 on these colours; a fresh model starts near ln 2.
	if !(ft.RawLosses[0] < 0.3 && ft.RawLosses[0] < fresh.RawLosses[0]) {
		t.Errorf("the fine-tuning sweep starts at loss %.3f, a fresh model's at %.3f: it did not start from the pretrained backbone and trained head", ft.RawLosses[0], fresh.RawLosses[0])
	}
	if len(ft.LRs) != o.Steps || ft.Suggestion <= 0 {
		t.Errorf("fine-tuning sweep: %d of %d steps, suggestion %v", len(ft.LRs), o.Steps, ft.Suggestion)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the range test created the output folder %s (stat: %v)", out, err)
	}
}

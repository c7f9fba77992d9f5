package train

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
)

// TestZeroInitResidual checks that Options.ZeroInitResidual starts ResNet's residual branches at zero (the
// last batch-norm scale of each block) and that without it they start at one, as before; config.json
// records the option only when it is on.
func TestZeroInitResidual(t *testing.T) {
	requireConvGradients(t)
	classes, trainSet, _ := animals(t, 2, 0)
	for _, zero := range []bool{false, true} {
		opts := DeepDefaults().Backend(testBackend(t)).Optimizer("sgd").Momentum(0).LR(1e-9).Epochs(1).BatchSize(len(trainSet)).Seed(1).Quiet()
		if zero {
			opts = opts.ZeroInitResidual()
		}
		d := Deep(zoo.MustLookup("resnet18"), models.New().Size(32).WithWidth(0.125)).Data(classes, trainSet, nil).
			CacheDir(t.TempDir()).NoAugment().With(opts)
		if got := strings.Contains(string(mustJSON(t, d.Planned())), "zero_init_residual"); got != zero {
			t.Errorf("zero=%v: config.json mentions zero_init_residual: %v", zero, got)
		}
		res, err := d.Fit()
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for name, vals := range modelWeights(t, res.Predictor) {
			if !strings.Contains(name, "/bn2") || !strings.Contains(name, "/layer") || !strings.HasSuffix(name, "/weight") {
				continue
			}
			checked++
			want := 1.0
			if zero {
				want = 0
			}
			for _, v := range vals {
				if math.Abs(float64(v)-want) > 1e-6 {
					t.Fatalf("zero=%v: %s starts at %v, want %v", zero, name, v, want)
				}
			}
		}
		if checked != 8 {
			t.Errorf("zero=%v: %d residual-branch scales checked, want ResNet18's 8", zero, checked)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

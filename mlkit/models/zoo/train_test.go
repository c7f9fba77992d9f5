package zoo_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/internal/testshared"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train"
)

// TestTrainAndLoad trains small versions of the registered families for one epoch on 10 real photos at
// 32 px with train.Deep and loads each back by the name in config.json (train.Load reads the registry). ResNet18 always runs (about 45 s, mostly compilation; skipped with -short);
// MobileNetV2 and EfficientNet need MLKIT_SLOW_TESTS=1 (2-3 minutes each).
func TestTrainAndLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping model-family training in -short mode")
	}
	b, _, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := train.ConvGradientSupported(b); err != nil {
		t.Skip(err)
	}
	dir := testshared.Animals5(t)
	var classes []string
	var examples []train.Example
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*"))
		sort.Strings(files)
		for _, f := range files[:2] {
			examples = append(examples, train.Example{ID: int64(len(examples)), Path: f, Label: len(classes)})
		}
		classes = append(classes, e.Name())
	}
	for _, c := range []struct {
		fam zoo.Spec
		cfg models.Config
	}{
		{zoo.MustLookup("resnet18"), models.New().Size(32).WithWidth(0.25)},
		{zoo.MustLookup("mobilenetv2"), models.New().Size(32).WithWidth(0.35)},
		{zoo.MustLookup("efficientnet"), models.New().Size(32).WithWidth(0.25).WithDepth(0.25)},
	} {
		t.Run(c.fam.Name, func(t *testing.T) {
			if c.fam.Name != "resnet18" && os.Getenv("MLKIT_SLOW_TESTS") == "" {
				t.Skip("set MLKIT_SLOW_TESTS=1 to train this family too (minutes of graph compilation)")
			}
			out := t.TempDir()
			res, err := train.Deep(c.fam, c.cfg).Data(classes, examples, examples[:5]).
				With(train.DeepDefaults().OutputDir(out).Epochs(1).BatchSize(5).Quiet()).Fit()
			if err != nil {
				t.Fatal(err)
			}
			p, err := train.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			probs, err := p.Predict([]string{examples[0].Path})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := res.Predictor.Predict([]string{examples[0].Path})
			for j := range probs[0] {
				if d := probs[0][j] - want[0][j]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("loaded %v, trained %v", probs[0], want[0])
				}
			}
			t.Logf("%s: 1 epoch, %.1f img/s, loss %.3f", c.fam.Name, res.History[0].ExamplesPerSecond, res.History[0].TrainLoss)
		})
	}
}

package mlkit

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/names"
)

// TestTrainOptionsAreRangeChecked: an out-of-range option makes Run fail at once, naming the option and
// its range, instead of silently training with a default.
func TestTrainOptionsAreRangeChecked(t *testing.T) {
	app, err := Create(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	deep := func() *TrainBuilder { return app.Train("m").OnDataset("none").Deep("resnet50") }
	cases := []struct {
		b    *TrainBuilder
		want string
	}{
		{deep().Size(0), "Size(0): want 32 to 1024"},
		{deep().Size(-64), "Size(-64): want 32 to 1024"},
		{deep().Size(1 << 20), "Size(1048576): want 32 to 1024"},
		{deep().Model(models.New().Size(8)), "Size(8): want 32 to 1024"},
		{deep().Epochs(0), "Epochs(0): want 1 to 10000"},
		{deep().Epochs(-3), "Epochs(-3)"},
		{deep().BatchSize(0), "BatchSize(0): want 1 to 4096"},
		{deep().BatchSize(1 << 30), "BatchSize(1073741824)"},
		{deep().LR(0), "LR(0): want a number from 1e-08 to 10"},
		{deep().LR(-1e-3), "LR(-0.001)"},
		{deep().LR(math.NaN()), "LR(NaN)"},
		{deep().LR(math.Inf(1)), "LR(+Inf)"},
		{deep().Devices(-1), "Devices(-1): want 0 to 1024"},
		{deep().Devices(1 << 20), "Devices(1048576)"},
		{app.Train("m").OnDataset("none").Head(DefaultEmbedder).Epochs(0), "Epochs(0)"},
	}
	for _, c := range cases {
		_, err := c.b.Run()
		if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `train "m"`) {
			t.Errorf("Run: %v; want ErrBadOption saying %q", err, c.want)
		}
	}
	if _, err := app.Train("../m").OnDataset("none").Head(DefaultEmbedder).Run(); !errors.Is(err, names.ErrInvalid) {
		t.Errorf("model name ../m: %v", err)
	}
	// Valid options get past the checks (to the missing dataset).
	_, err = deep().Size(32).Epochs(1).BatchSize(8).LR(1e-3).Run()
	if err == nil || errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "none") {
		t.Errorf("valid options: %v, want the missing-dataset error", err)
	}
}

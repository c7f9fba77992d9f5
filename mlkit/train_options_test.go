package mlkit

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/train"
)

// TrainBuilder's options start from the defaults of the model's kind (whatever the call order of Head),
// apply in call order (shortcuts and Options alike), and end with the app's folder and dataset.
func TestTrainOptionsApplyInOrderOnTheKindsDefaults(t *testing.T) {
	app := headApp(t, 15)
	m, err := app.Train("o").OnDataset("ds").
		Options(func(o train.Options) train.Options { return o.EarlyStopping(3).Epochs(7).OutputDir("/elsewhere") }).
		Epochs(2).BatchSize(8).Quiet().Head(fakeEmbedder).Run()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(app.Dir(), m.Dir, train.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg train.RunConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	head := train.HeadDefaults().Settings
	if cfg.Epochs != 2 || cfg.Patience != 3 || cfg.BatchSize != 8 || cfg.Seed != 42 ||
		cfg.Optimizer != head.Optimizer || !strings.HasPrefix(cfg.Dataset, "ds v1 (") || len(m.History) != 2 {
		t.Errorf("config.json %s: want epochs 2 (the later call), patience 3, batch 8, seed 42, the head's optimizer, dataset ds v1", raw)
	}
}

// A model configuration that cannot be recorded (NaN) is refused before anything is recorded or trained.
func TestTrainRefusesAnUnencodableModelConfig(t *testing.T) {
	app := headApp(t, 3)
	_, err := app.Train("nan").OnDataset("ds").Deep("resnet50").Model(models.New().Size(32).WithDropout(math.NaN())).Quiet().Run()
	if err == nil || !strings.Contains(err.Error(), "encoding the model configuration") {
		t.Fatalf("Run with a NaN dropout: %v, want an error about encoding the model configuration", err)
	}
	if ms, err := app.Models(); err != nil || len(ms) != 0 {
		t.Errorf("models after the refused run: %+v %v, want none", ms, err)
	}
}

// A summary that cannot be encoded (an infinite throughput from a zero-length clock reading) is an
// error, not a silently empty record.
func TestTrainSummaryThatCannotBeEncodedIsAnError(t *testing.T) {
	res := &train.Result{Backend: "go", BestEpoch: 1,
		History: []train.EpochStats{{Epoch: 1, Seconds: 1, ExamplesPerSecond: math.Inf(1), ValAccuracy: 0.5}}}
	if data, err := summaryJSON(res, 10, 2); err == nil || !strings.Contains(err.Error(), "summary") {
		t.Errorf("summaryJSON: %s %v, want an encoding error", data, err)
	}
	res.History[0].ExamplesPerSecond = 20
	data, err := summaryJSON(res, 10, 2)
	if err != nil || !strings.Contains(string(data), `"examples_per_second":20`) {
		t.Errorf("summaryJSON: %s %v", data, err)
	}
}

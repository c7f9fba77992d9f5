package mlkit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train"
)

// tinyDense is a network registered by a user (flatten + dense: trains on every backend), with an alias.
var tinyDense = zoo.MustRegister(zoo.Spec{Name: "tiny_dense_test", Aliases: []string{"tinydense_test"},
	Normalization: models.NormUnit, Size: 32,
	Build: func(ctx *context.Context, images *graph.Node, cfg models.Config) *graph.Node {
		x := graph.Reshape(images, images.Shape().Dimensions[0], -1)
		return layers.Dense(ctx.In("logits"), x, true, cfg.NumClasses)
	}})

// TestDeepReadsTheRegistry: Deep trains a network registered with zoo.Register, by its name or an alias,
// records the registry's one spelling (model record and config.json), reuses the model when trained
// again under the other spelling, and refuses a pretrained-only model and an unknown name clearly.
func TestDeepReadsTheRegistry(t *testing.T) {
	app := headApp(t, 6)
	deep := func(family string) *TrainBuilder {
		return app.Train("d").OnDataset("ds").Deep(family).Size(32).Epochs(1).BatchSize(4).Quiet()
	}
	first, err := deep("tinydense_test").Run()
	if err != nil {
		t.Fatal(err)
	}
	if first.Family != tinyDense.Name {
		t.Errorf("model recorded as family %q, want the registry's spelling %q", first.Family, tinyDense.Name)
	}
	var cfg train.RunConfig
	data, err := os.ReadFile(filepath.Join(app.Dir(), first.Dir, train.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.Family != tinyDense.Name || cfg.Normalization != models.NormUnit {
		t.Fatalf("config.json: family %q normalization %q (%v)", cfg.Family, cfg.Normalization, err)
	}
	again, err := deep(tinyDense.Name).Run()
	if err != nil || !again.Reused || again.ID != first.ID {
		t.Fatalf("training again under the canonical spelling: %+v, %v", again, err)
	}
	if _, err := app.Train("c").OnDataset("ds").Deep("clip_vit_b32").Quiet().Run(); err == nil || !strings.Contains(err.Error(), "pretrained only") {
		t.Errorf("deep training a pretrained-only model: %v", err)
	}
	if _, err := app.Train("u").OnDataset("ds").Deep("resnet51").Quiet().Run(); err == nil ||
		!strings.Contains(err.Error(), "resnet51") || !strings.Contains(err.Error(), "resnet50") {
		t.Errorf("deep training an unknown network: %v", err)
	}
}

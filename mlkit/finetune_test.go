package mlkit

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/nn/nntest"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train"
)

// tinyConvBackbone is a one-convolution network in torchvision naming ("conv1.weight"), pooled.
var tinyConvBackbone = zoo.MustRegister(zoo.Spec{Name: "tiny_conv_backbone_test", Normalization: models.NormUnit, Size: 32,
	Build: func(ctx *context.Context, x *graph.Node, cfg models.Config) *graph.Node {
		k := ctx.In("conv1").VariableWithShape("weight", shapes.Make(x.DType(), 3, 3, 3, 4)).ValueGraph(x.Graph())
		y := graph.ReduceMean(graph.Convolve(x, k).Strides(2).PadSame().Done(), 1, 2)
		if cfg.NumClasses > 0 {
			panic("tiny_conv_backbone_test is a backbone only")
		}
		return y
	}})

// TestFineTuneRunReusesAndEvaluates: FineTune trains from a torchvision-layout state dict, records kind
// "finetune"; the same call again returns the saved model without training; other settings are refused
// naming them; the model evaluates like a deep one; FrozenEpochs without FineTune is an option error.
func TestFineTuneRunReusesAndEvaluates(t *testing.T) {
	app := headApp(t, 6)
	r := rand.New(rand.NewPCG(1, 1))
	w := make([]float32, 4*3*3*3)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	path := filepath.Join(t.TempDir(), "backbone.safetensors")
	if err := nntest.WriteSafetensors(path, []nntest.StateTensor{{Name: "conv1.weight", Shape: []int{4, 3, 3, 3}, Values: w},
		{Name: "fc.weight", Shape: []int{10, 4}, Values: make([]float32, 40)}}); err != nil {
		t.Fatal(err)
	}
	ft := func(epochs int) *TrainBuilder {
		return app.Train("ft").OnDataset("ds").FineTune(tinyConvBackbone.Name).Weights(path).Size(32).FrozenEpochs(5).
			BackboneLRFactor(4).BackboneGroups(2).Epochs(epochs).BatchSize(4).Quiet()
	}
	first, err := ft(1).Run()
	if err != nil {
		t.Fatal(err)
	}
	if first.Kind != KindFineTune || first.Reused || len(first.History) != 6 {
		t.Fatalf("first run: kind %q reused %v, %d epochs", first.Kind, first.Reused, len(first.History))
	}
	if !strings.Contains(first.String(), "(fine-tuned "+tinyConvBackbone.Name+")") {
		t.Errorf("summary line %q does not say fine-tuned", first.String())
	}
	cfg := first.Result.Predictor.Config()
	if cfg.Kind != train.KindFineTune || cfg.BackboneLRFactor != 4 || cfg.BackboneGroups != 2 || cfg.Frozen == nil || cfg.Frozen.Epochs != 5 || cfg.Pretrained != path {
		t.Errorf("config: kind %q factor %v groups %d frozen %+v weights %q", cfg.Kind, cfg.BackboneLRFactor, cfg.BackboneGroups, cfg.Frozen, cfg.Pretrained)
	}
	again, err := ft(1).Run()
	if err != nil || !again.Reused || again.ID != first.ID || len(again.History) != 6 {
		t.Fatalf("same call again: %+v, %v", again, err)
	}
	if _, err := ft(2).Run(); err == nil || !strings.Contains(err.Error(), "epochs: 1 → 2") {
		t.Errorf("other settings: %v", err)
	}
	ev, err := app.Evaluate("ft", "ds", "validation")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Report.Examples == 0 {
		t.Errorf("evaluation of the fine-tuned model saw no photos: %+v", ev.Report)
	}
	if _, err := app.Train("x").OnDataset("ds").Deep(tinyConvBackbone.Name).FrozenEpochs(3).Quiet().Run(); err == nil || !strings.Contains(err.Error(), "FineTune first") {
		t.Errorf("FrozenEpochs without FineTune: %v", err)
	}
	if _, err := app.Train("y").OnDataset("ds").FineTune(tinyConvBackbone.Name).Weights("/missing.safetensors").Size(32).Quiet().Run(); err == nil ||
		!strings.Contains(err.Error(), "/missing.safetensors") {
		t.Errorf("missing weights: %v", err)
	}
}

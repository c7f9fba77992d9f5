package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/nn/nntest"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
)

// cliTinyBackbone is a one-convolution backbone in torchvision naming ("conv1.weight").
var cliTinyBackbone = zoo.MustRegister(zoo.Spec{Name: "cli_tiny_backbone_test", Normalization: models.NormUnit, Size: 32,
	Build: func(ctx *context.Context, x *graph.Node, cfg models.Config) *graph.Node {
		k := ctx.In("conv1").VariableWithShape("weight", shapes.Make(x.DType(), 3, 3, 3, 4)).ValueGraph(x.Graph())
		return graph.ReduceMean(graph.Convolve(x, k).Strides(2).PadSame().Done(), 1, 2)
	}})

// TestCLITrainFineTune: `mlkit train --fine-tune FAMILY --weights FILE` trains a "finetune" model, the
// same command again reuses it, and the fine-tuning flags without --fine-tune are a usage error.
func TestCLITrainFineTune(t *testing.T) {
	home := t.TempDir()
	t.Setenv("MLKIT_HOME", home)
	photos := t.TempDir()
	for i := range 6 {
		for c, class := range []string{"cat", "dog"} {
			writePNG(t, filepath.Join(photos, class, fmt.Sprintf("%d.png", i)), int64(2*i+c))
		}
	}
	for _, s := range [][]string{{"create", "ft"}, {"upload", "--app", "ft", "--labels-from-folders", photos},
		{"split", "--app", "ft", "--dataset", "ds", "--fractions", "0.6,0.2,0.2", "--seed", "1"}} {
		if r := call(s...); r.code != 0 {
			t.Fatalf("mlkit %s: exit %d\n%s", strings.Join(s, " "), r.code, r.stderr)
		}
	}
	w := make([]float32, 108)
	for i := range w {
		w[i] = float32(i%7) / 7
	}
	weights := filepath.Join(t.TempDir(), "w.safetensors")
	if err := nntest.WriteSafetensors(weights, []nntest.StateTensor{{Name: "conv1.weight", Shape: []int{4, 3, 3, 3}, Values: w}}); err != nil {
		t.Fatal(err)
	}
	args := []string{"train", "--app", "ft", "--dataset", "ds", "--model", "m", "--fine-tune", cliTinyBackbone.Name, "--weights", weights,
		"--size", "32", "--frozen-epochs", "3", "--backbone-lr-factor", "5", "--epochs", "1", "--batch", "4", "--json"}
	var out struct {
		Kind    string `json:"kind"`
		Reused  bool   `json:"reused"`
		History []any  `json:"history"`
	}
	decode(t, call(args...), &out)
	if out.Kind != "finetune" || out.Reused || len(out.History) != 4 {
		t.Fatalf("first run: %+v", out)
	}
	decode(t, call(args...), &out)
	if !out.Reused {
		t.Errorf("the same command again trained anew: %+v", out)
	}
	// --flip-tta predicts with the mirror images too: every photo still gets one prediction.
	var preds []map[string]any
	decode(t, call("predict", "--app", "ft", "--model", "m", "--flip-tta", "--json", photos), &preds)
	if len(preds) != 12 {
		t.Errorf("predict --flip-tta: %d rows, want 12: %v", len(preds), preds)
	}
	for _, p := range preds {
		if p["status"] != "predicted" {
			t.Errorf("predict --flip-tta: %v", p)
		}
	}
	// --lr-find sweeps the unfrozen phase from the pretrained weights and saves no model.
	var sweep struct {
		LRs        []float64 `json:"lrs"`
		Suggestion float64   `json:"suggestion"`
	}
	lrArgs := append([]string{}, args[:len(args)-1]...)
	lrArgs[6] = "m-lr" // --model
	decode(t, call(append(lrArgs, "--lr-find", "--lr-find-steps", "12", "--json")...), &sweep)
	if len(sweep.LRs) < 2 || !(sweep.Suggestion > 0) {
		t.Errorf("fine-tuning --lr-find: %+v", sweep)
	}
	if r := call("models", "--app", "ft"); r.code != 0 || strings.Contains(r.stdout, "m-lr") {
		t.Errorf("--lr-find left a model behind: %+v", r)
	}
	r := call("train", "--app", "ft", "--dataset", "ds", "--model", "d", "--deep", cliTinyBackbone.Name, "--frozen-epochs", "3")
	if r.code == 0 || !strings.Contains(r.stderr, "--fine-tune") {
		t.Errorf("--frozen-epochs without --fine-tune: exit %d, stderr %q", r.code, r.stderr)
	}
	r = call("train", "--app", "ft", "--dataset", "ds", "--model", "d", "--deep", cliTinyBackbone.Name, "--backbone-groups", "2")
	if r.code == 0 || !strings.Contains(r.stderr, "--fine-tune") {
		t.Errorf("--backbone-groups without --fine-tune: exit %d, stderr %q", r.code, r.stderr)
	}
	// --backbone-groups: out of range is an error naming the flag; 2 groups is another run.
	for _, bad := range []string{"0", "65", "two"} {
		r := call(append(append([]string{}, args[:len(args)-1]...), "--backbone-groups", bad)...)
		if r.code == 0 || !strings.Contains(r.stderr, "backbone-groups") {
			t.Errorf("--backbone-groups %s: exit %d, stderr %q", bad, r.code, r.stderr)
		}
	}
	groupArgs := append([]string{}, args[:len(args)-1]...)
	groupArgs[6] = "m-groups" // --model
	decode(t, call(append(groupArgs, "--backbone-groups", "2", "--json")...), &out)
	if out.Kind != "finetune" || out.Reused {
		t.Errorf("--backbone-groups 2: %+v", out)
	}
}

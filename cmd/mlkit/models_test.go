package main

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit"
)

// TestCLITrainAgainReplaceAndModels trains a head on synthetic embeddings through the CLI: training
// again reuses it, other settings need --replace, and `models ls|rm` list and delete.
func TestCLITrainAgainReplaceAndModels(t *testing.T) {
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv(AppEnv, "zoo")
	photos := t.TempDir()
	for i := 0; i < 20; i++ {
		writePNG(t, filepath.Join(photos, []string{"cat", "dog"}[i%2], fmt.Sprintf("%02d.png", i)), int64(i))
	}
	if r := call("create"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	if r := call("upload", photos, "--labels-from-folders"); r.code != 0 {
		t.Fatalf("upload: %+v", r)
	}
	if r := call("split", "--dataset", "zoo", "--counts", "12,4,4"); r.code != 0 {
		t.Fatalf("split: %+v", r)
	}
	// Cache a separable fake embedding of every input so that a head trains without a network.
	cacheEmbeddings(t, "zoo", "fake", 1, func(r *rand.Rand, in mlkit.Input) []float32 {
		v := []float32{float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64())}
		if in.Labels[0] == "dog" {
			v[0] += 3
		}
		return v
	})

	train := []string{"train", "--dataset", "zoo", "--model", "h", "--head", "fake", "--epochs", "2", "--json"}
	var first, again struct {
		Reused bool   `json:"reused"`
		Family string `json:"family"`
	}
	decode(t, call(train...), &first)
	decode(t, call(train...), &again)
	if first.Reused || !again.Reused || first.Family != "linear" {
		t.Fatalf("train twice: first %+v, again %+v", first, again)
	}
	if res := call("train", "--dataset", "zoo", "--model", "h", "--head", "fake", "--epochs", "2"); res.code != 0 || !strings.Contains(res.stdout, "already trained with these settings") {
		t.Fatalf("train again (text): %+v", res)
	}
	other := []string{"train", "--dataset", "zoo", "--model", "h", "--head", "fake", "--epochs", "3"}
	if res := call(other...); res.code != exitError || !strings.Contains(res.stderr, "epochs: 2 → 3") || !strings.Contains(res.stderr, "--replace") {
		t.Fatalf("train with other settings: %+v", res)
	}
	if res := call(append(other, "--replace")...); res.code != 0 || strings.Contains(res.stdout, "already trained") {
		t.Fatalf("train --replace: %+v", res)
	}
	var list []struct {
		Model, Status string
	}
	decode(t, call("models", "--json"), &list)
	if len(list) != 1 || list[0].Model != "h" || list[0].Status != "done" {
		t.Fatalf("models: %+v", list)
	}
	if res := call("models", "ls"); res.code != 0 || !strings.Contains(res.stdout, "h  ") || !strings.Contains(res.stdout, "linear on fake") {
		t.Fatalf("models ls: %+v", res)
	}
	if res := call("models", "rm", "h"); res.code != 0 || !strings.Contains(res.stdout, "deleted model h") {
		t.Fatalf("models rm: %+v", res)
	}
	if res := call("models", "rm", "h"); res.code != exitError || !strings.Contains(res.stderr, "not found") {
		t.Fatalf("models rm of a missing model: %+v", res)
	}
	if res := call("models", "frobnicate"); res.code != exitUsage {
		t.Fatalf("models with a bad subcommand: %+v", res)
	}
	decode(t, call("models", "--json"), &list)
	if len(list) != 0 {
		t.Fatalf("models after rm: %+v", list)
	}
}

package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit"
)

// TestCLITrainLRFind runs `mlkit train --lr-find` on a head over class-separable embeddings stored under
// a made-up embedder name (no network needed): it prints the suggestion, --json gives the series, and no
// model is saved.
func TestCLITrainLRFind(t *testing.T) {
	home := t.TempDir()
	t.Setenv("MLKIT_HOME", home)
	photos := t.TempDir()
	for i := range 12 {
		for c, class := range []string{"cat", "dog"} {
			writePNG(t, filepath.Join(photos, class, fmt.Sprintf("%d.png", i)), int64(2*i+c))
		}
	}
	for _, s := range [][]string{{"create", "lr"}, {"upload", "--app", "lr", "--labels-from-folders", photos},
		{"split", "--app", "lr", "--dataset", "ds", "--fractions", "0.6,0.2,0.2", "--seed", "1"}} {
		if r := call(s...); r.code != 0 {
			t.Fatalf("mlkit %s: exit %d\n%s", strings.Join(s, " "), r.code, r.stderr)
		}
	}
	cacheEmbeddings(t, filepath.Join(home, "lr"), "fake", 1, func(r *rand.Rand, in mlkit.Input) []float32 {
		v := []float32{float32(r.NormFloat64() * 0.3), float32(r.NormFloat64() * 0.3), 0, 0}
		if len(in.Labels) > 0 && in.Labels[0] == "dog" {
			v[0] += 2
		} else {
			v[1] += 2
		}
		return v
	})

	args := []string{"train", "--app", "lr", "--dataset", "ds", "--model", "m", "--head", "fake", "--batch", "4", "--lr-find"}
	text := call(args...)
	if text.code != 0 || !strings.Contains(text.stdout, "suggested learning rate") || !strings.Contains(text.stdout, "--lr ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", text.code, text.stdout, text.stderr)
	}
	var f struct {
		LRs        []float64 `json:"lrs"`
		Losses     []float64 `json:"losses"`
		Suggestion float64   `json:"suggestion"`
	}
	decode(t, call(append(args, "--json", "--lr-find-steps", "40")...), &f)
	if len(f.LRs) < 5 || len(f.LRs) > 40 || len(f.Losses) != len(f.LRs) || !(f.Suggestion >= f.LRs[0] && f.Suggestion <= f.LRs[len(f.LRs)-1]) {
		t.Fatalf("--json: %d lrs, %d losses, suggestion %v", len(f.LRs), len(f.Losses), f.Suggestion)
	}
	for i := 1; i < len(f.LRs); i++ {
		if !(f.LRs[i] > f.LRs[i-1]) {
			t.Fatalf("learning rates not increasing at %d: %v", i, f.LRs)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "lr", "models", "m")); !os.IsNotExist(err) {
		t.Errorf("--lr-find created the model's folder (stat: %v)", err)
	}
	if r := call("models", "--app", "lr"); r.code != 0 || strings.Contains(r.stdout, "m ") {
		t.Errorf("models after --lr-find: exit %d, %q", r.code, r.stdout)
	}
	if r := call("train", "--app", "lr", "--dataset", "ds", "--model", "m", "--head", "fake", "--lr-find-steps", "5"); r.code != exitUsage {
		t.Errorf("--lr-find-steps without --lr-find: exit %d, want usage error", r.code)
	}
}

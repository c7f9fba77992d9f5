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

// TestCLITestIsAppTestAndWordsTheRuleForTheCLI runs `mlkit test` on a small app (noise images with
// synthetic embeddings, two heads): before select it says to run `mlkit select`; it tests the selected
// model once and shows who ran it; again, it returns the recorded result; after selecting another model
// it is refused with the CLI's way out (`mlkit test --override`), not the Go API's; the override works.
func TestCLITestIsAppTestAndWordsTheRuleForTheCLI(t *testing.T) {
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv("MLKIT_VIEW_DIR", t.TempDir())
	photos := t.TempDir()
	classes := []string{"cat", "cow", "dog"}
	for i := 0; i < 30; i++ {
		writePNG(t, filepath.Join(photos, classes[i%3], fmt.Sprintf("%d.png", i)), int64(i))
	}
	app := []string{"--app", "rules"}
	if r := call("create", "rules"); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	if r := call(append([]string{"upload", "--labels-from-folders", photos}, app...)...); r.code != 0 {
		t.Fatalf("upload: %s", r.stderr)
	}
	// Cache well-separated vectors for the default embedder, so nothing is downloaded or embedded.
	cacheEmbeddings(t, "rules", mlkit.DefaultEmbedder, 1, func(r *rand.Rand, in mlkit.Input) []float32 {
		v := make([]float32, 8)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		v[map[string]int{"cat": 0, "cow": 1, "dog": 2}[filepath.Base(filepath.Dir(in.Source))]] += 3
		return v
	})
	steps := [][]string{
		{"split", "--dataset", "ds", "--fractions", "0.5,0.25,0.25", "--seed", "1"},
		{"train", "--dataset", "ds", "--model", "a", "--head", mlkit.DefaultEmbedder, "--epochs", "3", "--json"},
		{"train", "--dataset", "ds", "--model", "b", "--head", mlkit.DefaultEmbedder, "--epochs", "3", "--json"},
	}
	for _, s := range steps {
		if r := call(append(append([]string{}, s...), app...)...); r.code != 0 {
			t.Fatalf("mlkit %s: exit %d\n%s", strings.Join(s, " "), r.code, r.stderr)
		}
	}
	if r := call(append([]string{"test", "--dataset", "ds"}, app...)...); r.code != 1 || !strings.Contains(r.stderr, "`mlkit select --dataset ds`") {
		t.Fatalf("test before select: exit %d, stderr %q; want a failure saying to run `mlkit select`", r.code, r.stderr)
	}
	var sel map[string]any
	decode(t, call(append([]string{"select", "--dataset", "ds", "--metric", "accuracy", "a", "b", "--json"}, app...)...), &sel)
	winner := sel["winner"].(string)
	other := "a"
	if winner == "a" {
		other = "b"
	}
	var final map[string]any
	decode(t, call(append([]string{"test", "--dataset", "ds", "--json"}, app...)...), &final)
	user, _ := final["run_by"].(string)
	if final["model"] != winner || final["flag"] != "" || final["reused"] != false || user == "" {
		t.Fatalf("first test: %v", final)
	}
	if h, _ := final["history"].([]any); len(h) != 1 || h[0].(map[string]any)["run_by"] != user {
		t.Fatalf("test history: %v", final["history"])
	}
	r := call(append([]string{"test", "--dataset", "ds"}, app...)...)
	t.Logf("test again:\n%s", r.stdout)
	if r.code != 0 || !strings.Contains(r.stdout, "recorded result: tested by "+user) || !strings.Contains(r.stdout, winner) {
		t.Fatalf("test again: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := call(append([]string{"select", "--dataset", "ds", "--metric", "accuracy", other}, app...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r = call(append([]string{"test", "--dataset", "ds"}, app...)...)
	t.Logf("refusal:\n%s", r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "run `mlkit test --dataset ds --override \"reason\"`") ||
		strings.Contains(r.stderr, "OverrideTestRule") || !strings.Contains(r.stderr, fmt.Sprintf("%q on ds v1", winner)) || !strings.Contains(r.stderr, "by "+user) {
		t.Fatalf("test after selecting another model: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = call(append([]string{"evaluate", "--dataset", "ds", "--model", winner, "--split", "test", "--recompute"}, app...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "run `mlkit evaluate --dataset ds --model "+winner+" --split test --recompute --override \"reason\"`") {
		t.Fatalf("evaluate --split test --recompute: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var flagged map[string]any
	decode(t, call(append([]string{"test", "--dataset", "ds", "--override", "a second opinion", "--json"}, app...)...), &flagged)
	if flagged["model"] != other || !strings.Contains(flagged["flag"].(string), "a second opinion") {
		t.Fatalf("override: %v", flagged)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("MLKIT_HOME"), "rules")); err != nil {
		t.Fatal(err)
	}
}

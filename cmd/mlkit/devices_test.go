package main

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit"
	"github.com/visionnb/visionnb/mlkit/backend"
)

// TestCLITrainDevices trains a head with `mlkit train --devices 2` on XLA (skipped without two XLA
// devices), then asks again with --devices 1: the device count is not a setting of the model, so the
// second call reuses the first model. The pure-Go backend refuses --devices 2, naming the flag, and a batch
// that does not divide by the devices is refused the same way.
func TestCLITrainDevices(t *testing.T) {
	b, info, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	t.Setenv("MLKIT_HOME", home)
	photos := t.TempDir()
	for i := range 8 {
		for c, class := range []string{"cat", "dog"} {
			writePNG(t, filepath.Join(photos, class, fmt.Sprintf("%d.png", i)), int64(2*i+c))
		}
	}
	for _, s := range [][]string{{"create", "dp"}, {"upload", "--app", "dp", "--labels-from-folders", photos},
		{"split", "--app", "dp", "--dataset", "ds", "--fractions", "0.5,0.25,0.25", "--seed", "1"}} {
		if r := call(s...); r.code != 0 {
			t.Fatalf("mlkit %s: exit %d\n%s", strings.Join(s, " "), r.code, r.stderr)
		}
	}
	cacheEmbeddings(t, filepath.Join(home, "dp"), "fake", 1, func(r *rand.Rand, in mlkit.Input) []float32 {
		v := []float32{float32(r.NormFloat64() * 0.3), float32(r.NormFloat64() * 0.3), 0, 0}
		if len(in.Labels) > 0 && in.Labels[0] == "dog" {
			v[0] += 2
		} else {
			v[1] += 2
		}
		return v
	})
	base := []string{"train", "--app", "dp", "--dataset", "ds", "--model", "m", "--head", "fake", "--batch", "4", "--epochs", "3"}

	r := call(append(base, "--backend", "mlkitgo", "--devices", "2")...)
	if r.code == 0 || !strings.Contains(r.stderr, "--devices") || !strings.Contains(r.stderr, "XLA") {
		t.Errorf("--backend mlkitgo --devices 2: exit %d, stderr %q; want a refusal naming --devices and XLA", r.code, r.stderr)
	}
	if !strings.HasPrefix(info.Name, "xla") || b.NumDevices() < 2 {
		t.Skipf("the rest needs XLA with 2 devices; the default backend is %s with %d", info.Name, b.NumDevices())
	}
	r = call(append(base, "--batch", "3", "--devices", "2")...)
	if r.code == 0 || !strings.Contains(r.stderr, "batch size 3 does not divide by 2 devices") {
		t.Errorf("--batch 3 --devices 2: exit %d, stderr %q", r.code, r.stderr)
	}
	var m struct {
		Reused bool `json:"reused"`
	}
	decode(t, call(append(base, "--devices", "2", "--json")...), &m)
	if m.Reused {
		t.Fatal("first training reported reused")
	}
	decode(t, call(append(base, "--devices", "1", "--json")...), &m)
	if !m.Reused {
		t.Error("the same settings on 1 device trained anew; want the 2-device model reused")
	}
}

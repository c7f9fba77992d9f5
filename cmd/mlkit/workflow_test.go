package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/assets"
)

// TestCLITrainEvaluateSelectTestPredict runs the tutorial's steps 6-12 as a script on real photos (8 per
// class): train a head, evaluate, compare, select, test once, predict a folder to CSV, export.
func TestCLITrainEvaluateSelectTestPredict(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the real-photo CLI workflow in -short mode")
	}
	shared, ok := assets.SharedPath("data", "animals5")
	if _, okW := assets.SharedPath("models", "mobilenet_v2_035_tfjs"); !ok || !okW {
		t.Skip("skipping: the shared folder with data/animals5 and the MobileNetV2 weights is not beside the repository (or set MLKIT_SHARED)")
	}
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv("MLKIT_VIEW_DIR", t.TempDir())
	photos := t.TempDir()
	for _, class := range []string{"horse", "dog", "elephant", "sheep", "butterfly"} {
		entries, err := os.ReadDir(filepath.Join(shared, class))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries[:12] {
			data, err := os.ReadFile(filepath.Join(shared, class, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(photos, class), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(photos, class, e.Name()), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	app := []string{"--app", "cliflow", "--json"}
	steps := [][]string{
		{"create"},
		{"upload", "--labels-from-folders", photos},
		{"split", "--dataset", "animals", "--fractions", "0.6,0.2,0.2", "--seed", "3"},
		{"embed"},
		{"train", "--dataset", "animals", "--model", "head", "--head", "mobilenet_v2_035", "--epochs", "40"},
		{"train", "--dataset", "animals", "--model", "head2", "--head", "mobilenet_v2_035", "--epochs", "5"},
		{"evaluate", "--dataset", "animals", "--model", "head"},
		// A model from scratch, from the command line (tiny setting: it only has to run end to end).
		{"train", "--dataset", "animals", "--model", "scratch", "--deep", "efficientnet_b0", "--size", "32", "--epochs", "1", "--batch", "8", "--backend", "mlkitgo"},
		{"evaluate", "--dataset", "animals", "--model", "scratch"},
	}
	for _, s := range steps {
		if r := call(append(append([]string{}, s...), app...)...); r.code != 0 {
			t.Fatalf("mlkit %s: exit %d\n%s", strings.Join(s, " "), r.code, r.stderr)
		}
	}
	var ev map[string]any
	decode(t, call(append([]string{"evaluate", "--dataset", "animals", "--model", "head"}, app...)...), &ev)
	if acc := ev["accuracy"].(float64); acc < 0.6 {
		t.Errorf("head validation accuracy %.3f on 12 photos per class", acc)
	}
	if r := call(append([]string{"test", "--dataset", "animals"}, app...)...); r.code != 1 || !strings.Contains(r.stderr, "select") {
		t.Fatalf("test before select must fail and say to select: %d %s", r.code, r.stderr)
	}
	var cmp []map[string]any
	decode(t, call(append([]string{"compare", "--dataset", "animals"}, app...)...), &cmp)
	if len(cmp) != 3 {
		t.Fatalf("compare: %d models", len(cmp))
	}
	var sel map[string]any
	decode(t, call(append([]string{"select", "--dataset", "animals", "--metric", "accuracy"}, app...)...), &sel)
	var final map[string]any
	decode(t, call(append([]string{"test", "--dataset", "animals"}, app...)...), &final)
	if final["model"] != sel["winner"] || final["flag"] != "" {
		t.Fatalf("test evaluated %v (selected %v), flag %q", final["model"], sel["winner"], final["flag"])
	}
	// predict: a folder of new images (with one broken file) to CSV.
	newImgs := t.TempDir()
	entries, _ := os.ReadDir(filepath.Join(shared, "elephant"))
	for _, e := range entries[len(entries)-3:] {
		data, _ := os.ReadFile(filepath.Join(shared, "elephant", e.Name()))
		os.WriteFile(filepath.Join(newImgs, e.Name()), data, 0o644)
	}
	os.WriteFile(filepath.Join(newImgs, "broken.jpg"), []byte("not really a jpeg"), 0o644)
	csvPath := filepath.Join(t.TempDir(), "preds.csv")
	if r := call("predict", "--app", "cliflow", "--model", "head", "--out", csvPath, newImgs); r.code != 0 {
		t.Fatalf("predict: %s", r.stderr)
	}
	f, _ := os.Open(csvPath)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 5 || rows[0][1] != "predicted" {
		t.Fatalf("csv: %v %v", rows, err)
	}
	elephants := 0
	for _, r := range rows[1:] {
		if strings.HasSuffix(r[0], "broken.jpg") {
			if r[len(r)-1] == "" {
				t.Fatal("the broken file must carry an error")
			}
		} else if r[1] == "elephant" {
			elephants++
		}
	}
	t.Logf("predicted %d of 3 new elephants as elephant", elephants)
	// export the dataset and the model; the exported model predicts on its own.
	out := t.TempDir()
	var exp map[string]any
	decode(t, call(append([]string{"export", "--dataset", "animals", "--out", filepath.Join(out, "ds")}, app...)...), &exp)
	if n := int(exp["images"].(float64)); n != 60 {
		t.Fatalf("exported %d images", n)
	}
	if _, err := os.Stat(filepath.Join(out, "ds", "train", "horse")); err != nil {
		t.Fatal(err)
	}
	if r := call(append([]string{"export", "--model", "head", "--out", filepath.Join(out, "model")}, app...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := call("predict", "--model", filepath.Join(out, "model"), newImgs); r.code != 0 || strings.Count(r.stdout, "\n") != 5 {
		t.Fatalf("predict from the exported folder: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := call("predict", "--model", filepath.Join(out, "model"), t.TempDir()); r.code != 1 || !strings.Contains(r.stderr, "nothing predicted") {
		t.Fatalf("predict on an empty folder must fail: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "model", "predict", "main.go")); err != nil {
		t.Fatal(err)
	}
	fmt.Println("CLI workflow ok")
}

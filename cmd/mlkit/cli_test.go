package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit"
	"github.com/visionnb/visionnb/mlkit/store"
)

type result struct {
	code           int
	stdout, stderr string
}

func call(args ...string) result {
	var o, e bytes.Buffer
	code := run(args, &o, &e)
	return result{code, o.String(), e.String()}
}

func writePNG(t *testing.T, path string, seed int64) {
	img := image.NewRGBA(image.Rect(0, 0, 12, 12))
	rand.New(rand.NewSource(seed)).Read(img.Pix)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func decode(t *testing.T, r result, v any) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, stderr: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
}

func TestCLIWorkflow(t *testing.T) {
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv(AppEnv, "")
	photos := t.TempDir()
	for i := 0; i < 20; i++ {
		writePNG(t, filepath.Join(photos, []string{"cat", "dog"}[i%2], fmt.Sprintf("%02d.png", i)), int64(i))
	}
	os.WriteFile(filepath.Join(photos, "readme.txt"), []byte("not an image"), 0o644)

	var created map[string]any
	decode(t, call("create", "zoo", "--json"), &created)
	if created["app"] != "zoo" || created["inputs"].(float64) != 0 {
		t.Fatalf("create: %v", created)
	}

	var rep struct {
		Added    []map[string]any `json:"added"`
		Rejected []struct {
			Source, Reason string
		} `json:"rejected"`
		Labels map[string]int `json:"labels"`
	}
	// Flags after the positional source work too.
	decode(t, call("upload", "--app", "zoo", photos, "--labels-from-folders", "--json"), &rep)
	if len(rep.Added) != 20 || len(rep.Rejected) != 1 || rep.Rejected[0].Reason != "not_image" || rep.Labels["cat"] != 10 {
		t.Fatalf("upload: %+v", rep)
	}
	text := call("upload", "--app", "zoo", "--folder", photos)
	if text.code != 0 || !strings.Contains(text.stdout, "0 added, 20 duplicates, 1 rejected") {
		t.Fatalf("second upload: %+v", text)
	}

	var inputs []struct {
		ID     int64    `json:"id"`
		Labels []string `json:"labels"`
	}
	decode(t, call("inputs", "--app", "zoo", "--concept", "cat", "--json"), &inputs)
	if len(inputs) != 10 {
		t.Fatalf("inputs --concept cat: %d", len(inputs))
	}
	first := fmt.Sprint(inputs[0].ID)
	if r := call("label", "--app", "zoo", "--concept", "dog", "--replace", first); r.code != 0 || !strings.Contains(r.stdout, "labelled 1") {
		t.Fatalf("label --replace: %+v", r)
	}
	if r := call("unlabel", "--app", "zoo", "--concept", "cat", fmt.Sprint(inputs[1].ID)); r.code != 0 {
		t.Fatalf("unlabel: %+v", r)
	}
	var concepts []struct {
		Name   string `json:"name"`
		Inputs int    `json:"inputs"`
	}
	decode(t, call("concepts", "--app", "zoo", "--create", "bird", "--json"), &concepts)
	if len(concepts) != 3 || concepts[0].Name != "bird" || concepts[1].Inputs != 8 || concepts[2].Inputs != 11 {
		t.Fatalf("concepts: %+v", concepts)
	}

	var split struct {
		Version int                       `json:"version"`
		Counts  map[string]map[string]int `json:"counts"`
	}
	decode(t, call("split", "--app", "zoo", "--dataset", "zoo", "--counts", "13,3,3", "--seed", "4", "--json"), &split)
	if split.Version != 1 || split.Counts["train"]["cat"]+split.Counts["train"]["dog"] != 13 {
		t.Fatalf("split: %+v", split)
	}
	var stats struct {
		Inputs, Unlabelled int
		Classes            []struct {
			Concept                 string
			Train, Validation, Test int
		}
	}
	decode(t, call("stats", "--app", "zoo", "--json"), &stats)
	if stats.Inputs != 20 || stats.Unlabelled != 1 || len(stats.Classes) != 3 {
		t.Fatalf("stats: %+v", stats)
	}
	if r := call("stats", "--app", "zoo"); r.code != 0 || !strings.Contains(r.stdout, "total") {
		t.Fatalf("stats text: %+v", r)
	}
	// $MLKIT_APP is the default app.
	t.Setenv(AppEnv, "zoo")
	if r := call("split", "--dataset", "zoo", "--counts", "13,3,3", "--seed", "4"); r.code != 0 || !strings.Contains(r.stdout, "dataset zoo v1 unchanged (same spec, same members)") {
		t.Fatalf("split again with $MLKIT_APP: %+v", r)
	}
	// Another spec cannot re-split the members of v1, and there is nothing new: an error, not a silent v2.
	if r := call("split", "--dataset", "zoo", "--fractions", "0.5,0.25,0.25"); r.code != exitError || !strings.Contains(r.stderr, "only assigns new inputs") {
		t.Fatalf("split with another spec and no new inputs: %+v", r)
	}
	// A fold of a k-fold cross-validation: every labelled input in train or validation, none in test.
	var fold struct {
		Counts map[string]map[string]int `json:"counts"`
	}
	decode(t, call("split", "--dataset", "zoo-cv2", "--fold", "2/4", "--seed", "4", "--json"), &fold)
	if n := fold.Counts["train"]["cat"] + fold.Counts["train"]["dog"] + fold.Counts["validation"]["cat"] + fold.Counts["validation"]["dog"]; n != 19 || len(fold.Counts["test"]) != 0 {
		t.Fatalf("split --fold 2/4: %+v, want the 19 labelled inputs in train and validation", fold)
	}
	for _, bad := range [][]string{{"--fold", "5/4"}, {"--fold", "2/4", "--counts", "13,3,3"}} {
		if r := call(append([]string{"split", "--dataset", "zoo-bad"}, bad...)...); r.code == 0 || !strings.Contains(r.stderr, "fold") {
			t.Fatalf("split %v: %+v, want an error naming the fold", bad, r)
		}
	}
	if r := call("label", "--concept", "cat", fmt.Sprint(inputs[1].ID)); r.code != 0 {
		t.Fatalf("label: %+v", r)
	}
	if r := call("split", "--dataset", "zoo", "--counts", "13,3,3", "--seed", "4"); r.code != 0 || !strings.Contains(r.stdout, "created dataset zoo v2: 1 new inputs") {
		t.Fatalf("split after labelling one more input: %+v", r)
	}
}

func TestCLIExitCodes(t *testing.T) {
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv(AppEnv, "")
	if r := call("create", "x"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, exitUsage, "usage"},
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
		{[]string{"stats"}, exitUsage, "no app"},
		{[]string{"upload", "--app", "x"}, exitUsage, "nothing to upload"},
		{[]string{"upload", "--app", "x", "--no-such-flag", "d"}, exitUsage, "no-such-flag"},
		{[]string{"split", "--app", "x"}, exitUsage, "exactly one of"},
		{[]string{"split", "--app", "x", "--counts", "1,2,x"}, exitUsage, "element 3"},
		{[]string{"label", "--app", "x", "1"}, exitUsage, "--concept"},
		{[]string{"label", "--app", "x", "--concept", "c", "abc"}, exitUsage, "not a positive integer"},
		{[]string{"label", "--app", "x", "--concept", "c", "42"}, exitError, "no active input with id 42"},
		{[]string{"split", "--app", "x", "--counts", "1,0,0"}, exitError, "no labelled inputs"},
		{[]string{"concepts", "--app", "x", "--delete", "ghost"}, exitError, "ghost"},
		{[]string{"help"}, exitOK, ""},
		{[]string{"stats", "-h"}, exitOK, ""},
	}
	for _, c := range cases {
		r := call(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr+r.stdout, c.msg) {
			t.Errorf("mlkit %v: exit %d (want %d), output %q (want it to mention %q)", c.args, r.code, c.code, r.stderr+r.stdout, c.msg)
		}
	}
}

// cacheEmbeddings stores a synthetic embedding of every input of the app nameOrDir under embedder, so that
// heads train and searches run without a network: vector makes each one from the input and a random
// source seeded with seed. It returns the vectors by input id.
func cacheEmbeddings(t *testing.T, nameOrDir, embedder string, seed int64, vector func(r *rand.Rand, in mlkit.Input) []float32) map[int64][]float32 {
	t.Helper()
	app, err := mlkit.Open(nameOrDir)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ins, err := app.Inputs()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(seed))
	byID := map[int64][]float32{}
	var ids []int64
	var vecs [][]float32
	for _, in := range ins {
		v := vector(r, in)
		byID[in.ID] = v
		ids, vecs = append(ids, in.ID), append(vecs, v)
	}
	ctx := context.Background()
	if err := app.Store().Tx(ctx, func(tx *store.Tx) error { return tx.PutEmbeddings(ctx, embedder, ids, vecs) }); err != nil {
		t.Fatal(err)
	}
	return byID
}

package mlkit

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/train"
)

// fakeEmbedder names the synthetic embeddings headApp stores: training heads on them needs no network.
const fakeEmbedder = "fake-embedder"

// headApp returns an app with n tiny images per class of "cat" and "dog", split into dataset "ds", and a
// cached, class-separable 8-d embedding of every image under fakeEmbedder.
func headApp(t *testing.T, n int) *App {
	t.Helper()
	app, err := Create(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	addHeadInputs(t, app, 0, n)
	if _, err := app.Split("ds", Fractions(0.6, 0.2, 0.2).WithSeed(1)); err != nil {
		t.Fatal(err)
	}
	return app
}

// addHeadInputs uploads images first..first+n-1 of each class and caches their fake embeddings.
func addHeadInputs(t *testing.T, app *App, first, n int) {
	t.Helper()
	photos := t.TempDir()
	for i := first; i < first+n; i++ {
		for c, class := range []string{"cat", "dog"} {
			p := filepath.Join(photos, class, fmt.Sprintf("%d.png", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, noisePNG(t, int64(2*i+c)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := app.Upload().Folder(photos).LabelsFromFolders().Run(bg); err != nil {
		t.Fatal(err)
	}
	// Noise images all look alike to MobileNetV2 (cosine >= 0.97): distinct default-embedder vectors keep
	// the split's near-duplicate grouping and the test's leak check out of these tests.
	if err := classEmbeddings(app); err != nil {
		t.Fatal(err)
	}
	ins, err := app.Inputs()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(int64(first)))
	var ids []int64
	var vecs [][]float32
	for _, in := range ins {
		v := make([]float32, 8)
		for k := range v {
			v[k] = float32(r.NormFloat64() * 0.3)
		}
		if len(in.Labels) > 0 && in.Labels[0] == "dog" {
			v[0] += 2
		} else {
			v[1] += 2
		}
		ids, vecs = append(ids, in.ID), append(vecs, v)
	}
	if err := app.Store().Tx(bg, func(tx *store.Tx) error { return tx.PutEmbeddings(bg, fakeEmbedder, ids, vecs) }); err != nil {
		t.Fatal(err)
	}
}

func TestTrainAgainReusesRefusesOrReplaces(t *testing.T) {
	app := headApp(t, 15)
	head := func(epochs int) *TrainBuilder {
		return app.Train("m").Head(fakeEmbedder).OnDataset("ds").Epochs(epochs).BatchSize(8).Quiet()
	}
	first, err := head(3).Run()
	if err != nil {
		t.Fatal(err)
	}
	if first.Reused || first.Status != "done" || len(first.History) != 3 || first.Family != "linear" {
		t.Fatalf("first run: reused %v status %s epochs %d family %s", first.Reused, first.Status, len(first.History), first.Family)
	}
	hist := filepath.Join(app.Dir(), first.Dir, train.HistoryFile)
	before, _ := os.Stat(hist)
	if _, err := app.Evaluate("m", "ds", "validation"); err != nil {
		t.Fatal(err)
	}
	// The same settings on the same version: the saved model, nothing trained, built or compiled.
	again, err := head(3).Run()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(hist)
	if !again.Reused || again.ID != first.ID || again.Result == nil || again.Result.Predictor != nil ||
		len(again.History) != 3 || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("identical re-run: reused %v id %d/%d result %+v; history rewritten: %v", again.Reused, again.ID, first.ID, again.Result, !after.ModTime().Equal(before.ModTime()))
	}
	t.Logf("first run %v, identical re-run %v", first.Result.Elapsed, again.Result.Elapsed)
	if again.Result.Elapsed >= first.Result.Elapsed {
		t.Errorf("the identical re-run took %v, the training itself %v: it must not train or compile", again.Result.Elapsed, first.Result.Elapsed)
	}
	if evs, _ := app.Store().Evaluations(bg, first.ID, "", 0, ""); len(evs) != 1 {
		t.Errorf("re-run lost the evaluation: %d", len(evs))
	}
	// Other settings: an error naming them and the two ways out; nothing changed.
	_, err = head(5).Run()
	if err == nil || !strings.Contains(err.Error(), "epochs: 3 → 5") || !strings.Contains(err.Error(), ".Replace()") ||
		!strings.Contains(err.Error(), "--replace") || !strings.Contains(err.Error(), "another name") {
		t.Fatalf("other settings without Replace: %v", err)
	}
	// Replace deletes the old model (and its evaluations) and trains anew.
	replaced, err := head(5).Replace().Run()
	if err != nil {
		t.Fatal(err)
	}
	if replaced.Reused || len(replaced.History) != 5 || replaced.Result.ResumedFromEpoch != 0 {
		t.Fatalf("replaced: reused %v epochs %d resumed from %d", replaced.Reused, len(replaced.History), replaced.Result.ResumedFromEpoch)
	}
	if evs, _ := app.Store().Evaluations(bg, 0, "ds", 0, ""); len(evs) != 0 {
		t.Errorf("the replaced model's evaluations remain: %d", len(evs))
	}
	// A new dataset version is another setting too.
	addHeadInputs(t, app, 100, 5)
	if v, err := app.Split("ds", Fractions(0.6, 0.2, 0.2).WithSeed(1)); err != nil || v.Number != 2 {
		t.Fatalf("second version: %v %v", v, err)
	}
	if _, err := head(5).Run(); err == nil || !strings.Contains(err.Error(), "dataset version: ds v1 → ds v2") {
		t.Fatalf("same settings on a new version: %v", err)
	}
	// A head with a hidden layer is recorded as an MLP.
	mlp, err := app.Train("mlp").Head(fakeEmbedder).OnDataset("ds").Epochs(2).Quiet().
		TuneHead(func(h *train.HeadBuilder) *train.HeadBuilder { return h.Hidden(8) }).Run()
	if err != nil {
		t.Fatal(err)
	}
	if rec, _ := app.LoadModel("mlp"); mlp.Family != "mlp" || rec.Family != "mlp" {
		t.Errorf("hidden-layer head recorded as %q / %q, want mlp", mlp.Family, rec.Family)
	}
}

// killAfter is a Progress that panics once epoch n is saved, as if the process were killed then.
type killAfter struct {
	n     int
	check func()
}

func (k killAfter) Step(train.StepInfo) {}
func (k killAfter) Epoch(st train.EpochStats) {
	if k.check != nil {
		k.check()
	}
	if st.Epoch == k.n {
		panic("killed")
	}
}

// interrupt trains name for 3 epochs and stops it after the first, leaving what a killed run leaves.
func interrupt(t *testing.T, app *App, name string, check func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != "killed" {
			t.Fatalf("training %s: %v, want the simulated kill", name, r)
		}
	}()
	_, err := app.Train(name).Head(fakeEmbedder).OnDataset("ds").Epochs(3).BatchSize(8).Quiet().
		Options(func(o train.Options) train.Options { return o.Progress(killAfter{n: 1, check: check}) }).Run()
	t.Fatalf("the run was not interrupted: %v", err)
}

func TestInterruptedTrainingIsShownResumedAndDeletable(t *testing.T) {
	app := headApp(t, 15)
	status := func(name string) string {
		t.Helper()
		ms, err := app.Models()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Name == name {
				return m.Status
			}
		}
		return "missing"
	}
	interrupt(t, app, "a", func() {
		if s := status("a"); s != "training" {
			t.Errorf("status while training: %q", s)
		}
	})
	if s := status("a"); s != StatusInterrupted {
		t.Fatalf("status after the kill: %q, want %q", s, StatusInterrupted)
	}
	if m, err := app.LoadModel("a"); err != nil || m.Status != StatusInterrupted {
		t.Fatalf("LoadModel after the kill: %v %v", m, err)
	}
	// The identical call resumes from the checkpoint of epoch 1.
	m, err := app.Train("a").Head(fakeEmbedder).OnDataset("ds").Epochs(3).BatchSize(8).Quiet().Run()
	if err != nil {
		t.Fatal(err)
	}
	if m.Reused || m.Result.ResumedFromEpoch != 1 || len(m.History) != 3 || m.Status != "done" || status("a") != "done" {
		t.Fatalf("resumed run: reused %v resumed from %d, %d epochs, status %s", m.Reused, m.Result.ResumedFromEpoch, len(m.History), m.Status)
	}
	// An interrupted model can be deleted: folder and record.
	interrupt(t, app, "b", nil)
	if err := app.DeleteModel("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(app.Dir(), "models", "b")); !errors.Is(err, os.ErrNotExist) || status("b") != "missing" {
		t.Fatalf("after DeleteModel: folder %v, status %s", err, status("b"))
	}
	if err := app.DeleteModel("b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting a missing model: %v, want ErrNotFound", err)
	}
}

func TestOneTrainingPerModelName(t *testing.T) {
	app := headApp(t, 10)
	// Another run holds the name's lock (a second holder in this process is refused like another process).
	held, err := app.lockModel("m")
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.Train("m").Head(fakeEmbedder).OnDataset("ds").Epochs(1).Quiet().Run()
	want := fmt.Sprintf("model %q is being trained by process %d (since ", "m", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("concurrent training: %v, want %q", err, want)
	}
	if err := app.DeleteModel("m"); err == nil || !strings.Contains(err.Error(), "is being trained by process") {
		t.Fatalf("deleting a model being trained: %v", err)
	}
	held.Release()
	// A lock file left by a process that is gone is stale: taken over.
	sleeper := exec.Command("true")
	if err := sleeper.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%d\n2020-01-01T00:00:00Z\n", sleeper.Process.Pid)
	if err := os.WriteFile(app.modelLockPath("m"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Train("m").Head(fakeEmbedder).OnDataset("ds").Epochs(1).Quiet().Run(); err != nil {
		t.Fatalf("training over a stale lock: %v", err)
	}
	if _, err := os.Stat(app.modelLockPath("m")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock file outlived the run: %v", err)
	}
}

func TestDeletingATestedModelKeepsTheTestHistory(t *testing.T) {
	app := headApp(t, 15)
	if _, err := app.Train("m").Head(fakeEmbedder).OnDataset("ds").Epochs(2).Quiet().Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Select("ds", "validation", "accuracy", "m"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Evaluate("m", "ds", "test"); err != nil {
		t.Fatal(err)
	}
	if err := app.DeleteModel("m"); err != nil {
		t.Fatal(err)
	}
	rec, err := app.TestHistory("ds")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Runs) != 1 || !strings.HasPrefix(rec.Runs[0].Model, "m (deleted #") {
		t.Fatalf("test history after deleting the tested model: %+v", rec.Runs)
	}
	if ms, _ := app.Models(); len(ms) != 0 {
		t.Errorf("deleted model still listed: %+v", ms)
	}
}

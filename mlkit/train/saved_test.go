package train

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/models"
)

func TestPlannedMatchesTheSavedRunAndInspectNamesDifferences(t *testing.T) {
	b := testBackend(t)
	classes := classNames(3)
	trainSet, valSet := blobs(5, 40, 16, 3, 2), blobs(6, 12, 16, 3, 2)
	dir := filepath.Join(t.TempDir(), "run")
	// Batch 64 is capped at the 40 training examples: Planned must say what Fit saves.
	h := Head(classes, trainSet, valSet).Hidden(8).
		With(HeadDefaults().Backend(b).Epochs(3).BatchSize(64).Seed(2).OutputDir(dir).Dataset("ds v1").Quiet())
	if st, err := Inspect(dir, h.Planned()); err != nil || st.Exists {
		t.Fatalf("Inspect of an empty folder: %+v %v", st, err)
	}
	res, err := h.Fit()
	if err != nil {
		t.Fatal(err)
	}
	st, err := Inspect(dir, h.Planned())
	if err != nil || !st.Same() || !st.Finished || st.Epochs != 3 {
		t.Fatalf("Inspect after Fit: %+v %v, want the same finished 3-epoch run", st, err)
	}
	other := Head(classes, trainSet, valSet).Hidden(8).
		With(HeadDefaults().Backend(b).Epochs(5).BatchSize(64).Seed(2).OutputDir(dir).Dataset("ds v2").Quiet())
	st, err = Inspect(dir, other.Planned())
	if err != nil || st.Same() {
		t.Fatalf("Inspect with other settings: %+v %v", st, err)
	}
	got := strings.Join(st.Differences, "; ")
	if got != `dataset: "ds v1" → "ds v2"; epochs: 3 → 5` {
		t.Errorf("differences %q", got)
	}
	saved, err := SavedResult(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved.History) != 3 || saved.BestEpoch != res.BestEpoch || saved.Backend != res.Backend || saved.Predictor != nil ||
		saved.History[2].ValLoss != res.History[2].ValLoss {
		t.Errorf("SavedResult %+v does not match the run %+v", saved, res)
	}
}

func TestDeepPlannedMatchesTheSavedRun(t *testing.T) {
	classes, trainSet, valSet := animals(t, 3, 1)
	dir := filepath.Join(t.TempDir(), "run")
	d := Deep(testDenseFamily, models.New().Size(16)).Data(classes, trainSet, valSet).CacheDir(t.TempDir()).
		With(DeepDefaults().Backend(testBackend(t)).Epochs(1).BatchSize(64).Seed(1).OutputDir(dir).Quiet())
	if _, err := d.Fit(); err != nil {
		t.Fatal(err)
	}
	st, err := Inspect(dir, d.Planned())
	if err != nil || !st.Same() || !st.Finished {
		t.Fatalf("Inspect after a deep Fit: %+v %v, want the same finished run", st, err)
	}
}

// Two writers of one file (e.g. two processes saving history.json in one folder) must not rename each
// other's temporary file away.
func TestWriteJSONAtomicConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), HistoryFile)
	errs := make(chan error, 16)
	for w := range 16 {
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				err = writeJSONAtomic(path, map[string]int{"writer": w, "i": i})
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent writeJSONAtomic: %v", err)
		}
	}
	var got map[string]int
	if err := readJSON(path, &got); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(path + ".*.tmp")
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

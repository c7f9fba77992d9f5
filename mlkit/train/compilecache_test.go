package train

import (
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/backend"
)

// The learning rate is an input of the training step, not a constant in it: runs that differ only in
// learning rate, schedule, warm-up or epochs (and the lr_find sweep) build the same programs, so the second
// run on XLA loads every one from the compile cache instead of compiling it (a notebook user changing
// .Epochs or .LR and re-running the cell waits seconds, not half a minute).
func TestOneCompiledStepServesEverySchedule(t *testing.T) {
	b := testBackend(t)
	if !strings.HasPrefix(b.Name(), "xla") {
		t.Skipf("backend %q compiles nothing: the compile cache is XLA's", b.Name())
	}
	prev := backend.CompileCacheDir()
	backend.SetCompileCacheDir(t.TempDir())
	t.Cleanup(func() { backend.SetCompileCacheDir(prev) })
	classes := classNames(3)
	trainSet, valSet := blobs(7, 96, 8, 3, 0.5), blobs(8, 30, 8, 3, 0.5)
	run := func(what string, fit func(*HeadBuilder) error) backend.CompileCacheStats {
		before := backend.GetCompileCacheStats()
		if err := fit(Head(classes, trainSet, valSet)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		after := backend.GetCompileCacheStats()
		return backend.CompileCacheStats{Hits: after.Hits - before.Hits, Misses: after.Misses - before.Misses,
			Stored: after.Stored - before.Stored, Errors: after.Errors - before.Errors}
	}
	base := HeadDefaults().Backend(b).BatchSize(16).Seed(2).Quiet()
	first := run("first run", func(h *HeadBuilder) error {
		_, err := h.With(base.Epochs(3).LR(1e-3)).Fit()
		return err
	})
	if first.Misses < 2 || first.Errors != 0 {
		t.Fatalf("first run on an empty cache: %+v, want its programs compiled (training step and evaluation at least)", first)
	}
	second := run("other schedule", func(h *HeadBuilder) error {
		_, err := h.With(base.Epochs(5).LR(3e-3).Schedule("onecycle").WarmupEpochs(1)).Fit()
		return err
	})
	if second.Misses != 0 || second.Hits < 2 || second.Errors != 0 {
		t.Errorf("a run with another LR, schedule and epoch count: %+v, want every program loaded, none compiled", second)
	}
	sweep := run("lr_find", func(h *HeadBuilder) error {
		_, err := h.With(base).LRFind(LRFindOptions{StartLR: 1e-5, EndLR: 1, Steps: 10})
		return err
	})
	if sweep.Misses != 0 || sweep.Hits < 1 {
		t.Errorf("lr_find after training: %+v, want its training step loaded, not compiled", sweep)
	}
}

package train

import (
	"testing"
	"time"
)

// TestCheckpointPacer: a slow save (a large network's checkpoint) is followed by epochs without one until
// nine times its duration has passed; the first and last epochs of a run always save; a fast save (a
// small model's) lets every epoch save.
func TestCheckpointPacer(t *testing.T) {
	var p checkpointPacer
	if !p.due(false) {
		t.Fatal("no save yet: the first epoch end must save")
	}
	p.saved()
	// A save that took 2 s, ended just now.
	p.lastEnd, p.lastLength = time.Now(), 2*time.Second
	if p.due(false) {
		t.Error("0 s after a 2-s save: saved again, want it skipped until 18 s have passed")
	}
	if !p.due(true) {
		t.Error("the last epoch must save whatever the pace")
	}
	p.lastEnd, p.lastLength = time.Now().Add(-19*time.Second), 2*time.Second
	if !p.due(false) {
		t.Error("19 s after a 2-s save: skipped, want a save")
	}
	p.lastEnd, p.lastLength = time.Now().Add(-time.Millisecond), 50*time.Microsecond
	if !p.due(false) {
		t.Error("1 ms after a 50-µs save: skipped, want a save (small models save every epoch)")
	}
}

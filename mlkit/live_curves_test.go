package mlkit

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit/view"
)

// recordedLive is a liveOutput that records the charts a training run draws, as a notebook would get them.
type recordedLive struct {
	updates  []view.Renderable
	finishes []view.Renderable
}

func (r *recordedLive) Active() bool { return true }
func (r *recordedLive) Update(c view.Renderable) error {
	r.updates = append(r.updates, c)
	return nil
}
func (r *recordedLive) Finish(c view.Renderable) error {
	r.finishes = append(r.finishes, c)
	return nil
}
func (r *recordedLive) Updates() int { return len(r.updates) + len(r.finishes) }

// recordLive makes the training runs of one test draw their live curves into the returned recorders.
func recordLive(t *testing.T, every time.Duration) *[]*recordedLive {
	t.Helper()
	var lives []*recordedLive
	oldNew, oldEvery := newLiveOutput, liveCurvesEvery
	newLiveOutput = func() liveOutput { l := &recordedLive{}; lives = append(lives, l); return l }
	liveCurvesEvery = every
	t.Cleanup(func() { newLiveOutput, liveCurvesEvery = oldNew, oldEvery })
	return &lives
}

// samePNG fails unless got renders to the same PNG as want.
func samePNG(t *testing.T, what string, got, want view.Renderable) {
	t.Helper()
	g, err := got.PNG()
	if err != nil {
		t.Fatalf("%s: rendering: %v", what, err)
	}
	w, err := want.PNG()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s: the chart drawn is not the expected curves", what)
	}
}

// TestTrainingCurvesRedrawLive trains a head in a (recorded) notebook: after every epoch the curves of
// the epochs so far are redrawn into one live output, the run's end draws the whole history there, and
// ShowCurves on the model redraws that output instead of showing a second chart.
func TestTrainingCurvesRedrawLive(t *testing.T) {
	lives := recordLive(t, 0)
	app := headApp(t, 15)
	dir := t.TempDir()
	view.SetOutputDir(dir)
	t.Cleanup(func() { view.SetOutputDir("") })
	m, err := app.Train("live").Head(fakeEmbedder).OnDataset("ds").Epochs(4).BatchSize(8).Run()
	if err != nil {
		t.Fatal(err)
	}
	if len(*lives) != 1 {
		t.Fatalf("%d live outputs, want 1", len(*lives))
	}
	live := (*lives)[0]
	if len(m.History) != 4 || len(live.updates) != 4 || len(live.finishes) != 1 {
		t.Fatalf("history %d epochs; %d per-epoch redraws and %d final ones, want 4 and 1", len(m.History), len(live.updates), len(live.finishes))
	}
	for i, c := range live.updates {
		samePNG(t, fmt.Sprintf("redraw after epoch %d", i+1), c, curvesChart("live", m.History[:i+1]))
	}
	samePNG(t, "final redraw", live.finishes[0], curvesChart("live", m.History))
	if err := m.ShowCurves(); err != nil {
		t.Fatal(err)
	}
	if len(live.finishes) != 2 {
		t.Errorf("ShowCurves after a live run: %d final redraws, want 2 (the run's and ShowCurves')", len(live.finishes))
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("ShowCurves after a live run also showed the chart elsewhere (%d files)", len(files))
	}

	// A model not trained by this call (reused: the same settings again) has no live output: ShowCurves
	// shows a new chart.
	again, err := app.Train("live").Head(fakeEmbedder).OnDataset("ds").Epochs(4).BatchSize(8).Run()
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || (*lives)[1].Updates() != 0 {
		t.Fatalf("re-run: reused %v, %d live redraws, want a reused model and none", again.Reused, (*lives)[1].Updates())
	}
	if err := again.ShowCurves(); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 1 {
		t.Errorf("ShowCurves of a reused model wrote %d files, want 1", len(files))
	}
}

// TestTrainingCurvesThrottled checks that epochs faster than liveCurvesEvery are not each redrawn (the
// first one is, and the run's end draws the whole history), and that a quiet run draws nothing.
func TestTrainingCurvesThrottled(t *testing.T) {
	lives := recordLive(t, time.Hour)
	app := headApp(t, 15)
	m, err := app.Train("fast").Head(fakeEmbedder).OnDataset("ds").Epochs(5).BatchSize(8).Run()
	if err != nil {
		t.Fatal(err)
	}
	live := (*lives)[0]
	if len(live.updates) != 1 || len(live.finishes) != 1 {
		t.Fatalf("%d redraws and %d final ones, want 1 and 1", len(live.updates), len(live.finishes))
	}
	samePNG(t, "final redraw", live.finishes[0], curvesChart("fast", m.History))

	if _, err := app.Train("quiet").Head(fakeEmbedder).OnDataset("ds").Epochs(2).BatchSize(8).Quiet().Run(); err != nil {
		t.Fatal(err)
	}
	if q := (*lives)[1]; q.Updates() != 0 {
		t.Errorf("a quiet run drew its curves %d times", q.Updates())
	}
}

// TestLoadModelReadsHistory checks that a loaded model carries its training history (history.json holds
// an object with the epochs, which LoadModel once decoded as a bare list, silently: no history, and
// ShowCurves refused).
func TestLoadModelReadsHistory(t *testing.T) {
	app := headApp(t, 15)
	m, err := app.Train("h").Head(fakeEmbedder).OnDataset("ds").Epochs(3).BatchSize(8).Quiet().Run()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := app.LoadModel("h")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.History) != 3 || loaded.History[2].TrainLoss != m.History[2].TrainLoss {
		t.Fatalf("loaded history: %d epochs %+v, want the 3 trained", len(loaded.History), loaded.History)
	}
	view.SetOutputDir(t.TempDir())
	t.Cleanup(func() { view.SetOutputDir("") })
	if err := loaded.ShowCurves(); err != nil {
		t.Fatal(err)
	}
}

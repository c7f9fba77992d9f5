package view

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"os"
	"strconv"
	"strings"
	"testing"
)

// liveUpdate is one in-place update a Live output sent.
type liveUpdate struct{ id, html string }

// fakeLiveNotebook records what Live outputs would send to a notebook.
func fakeLiveNotebook(t *testing.T) (updates *[]liveUpdate, syncs *int) {
	t.Helper()
	fakeNotebook(t)
	var ups []liveUpdate
	var n int
	oldUpdate, oldSync := updateHTML, displaySync
	updateHTML = func(id, html string) { ups = append(ups, liveUpdate{id, html}) }
	displaySync = func() { n++ }
	t.Cleanup(func() { updateHTML, displaySync = oldUpdate, oldSync })
	return &ups, &n
}

// TestLiveRedrawsInPlace checks a Live output in a notebook: every Update sends the chart as a PNG under
// one display id (so the notebook replaces it in place), the HTML survives JupyterLab's untrusted
// sanitizer whole, Finish syncs and later Updates are dropped.
func TestLiveRedrawsInPlace(t *testing.T) {
	updates, syncs := fakeLiveNotebook(t)
	live := NewLive()
	if !live.Active() {
		t.Fatal("Live is not active in a (fake) notebook")
	}
	loss := []float64{}
	for epoch := 1; epoch <= 3; epoch++ {
		loss = append(loss, 1/float64(epoch))
		if err := live.Update(Row(Line().Title("loss").Values("train", loss).Size(300, 200), Line().Title("acc").Values("train", loss).Size(300, 200))); err != nil {
			t.Fatal(err)
		}
	}
	if err := live.Finish(Line().Title("final").Values("train", loss).Size(300, 200)); err != nil {
		t.Fatal(err)
	}
	if err := live.Update(Line().Values("late", loss)); err != nil {
		t.Fatal(err)
	}
	if len(*updates) != 4 || live.Updates() != 4 {
		t.Fatalf("got %d updates (Updates() %d), want 3 epochs + the final one", len(*updates), live.Updates())
	}
	if *syncs != 1 {
		t.Errorf("Finish synced %d times, want 1", *syncs)
	}
	for i, u := range *updates {
		if u.id != (*updates)[0].id || !strings.HasPrefix(u.id, "mlkv-live-") {
			t.Errorf("update %d has display id %q, want the same mlkv-live-... id as the first (%q)", i, u.id, (*updates)[0].id)
		}
		s := sanitizeLikeJupyterLab(u.html)
		for _, r := range s.removed {
			t.Errorf("update %d: the untrusted sanitizer drops %s", i, r)
		}
		var img *element
		for _, e := range elements(s.html) {
			if e.name == "img" {
				img = &e
			}
		}
		if img == nil {
			t.Fatalf("update %d has no <img> after sanitizing: %.200s", i, s.html)
		}
		src := img.attrs["src"]
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/png;base64,"))
		if err != nil || !strings.HasPrefix(src, "data:image/png;base64,") {
			t.Fatalf("update %d: img src is not a base64 PNG data URI (%.40s): %v", i, src, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("update %d: the image is not a PNG: %v", i, err)
		}
		minW := 600 // two 300-px charts side by side
		if i == 3 {
			minW = 300
		}
		if img.attrs["width"] != strconv.Itoa(cfg.Width) || img.attrs["height"] != strconv.Itoa(cfg.Height) || cfg.Width < minW {
			t.Errorf("update %d: img %sx%s, PNG %dx%d, want the PNG's size, at least %d px wide", i, img.attrs["width"], img.attrs["height"], cfg.Width, cfg.Height, minW)
		}
		if img.style["max-width"] != "100%" {
			t.Errorf("update %d: img does not shrink to the output area (style %v)", i, img.style)
		}
	}
	if !strings.Contains((*updates)[3].html, `alt="final"`) {
		t.Errorf("the final update's alt text is not the chart's title: %.300s", (*updates)[3].html)
	}
}

// TestLiveOutsideNotebookIsNoOp checks that outside a notebook a Live output sends nothing and writes
// no file.
func TestLiveOutsideNotebookIsNoOp(t *testing.T) {
	dir := t.TempDir()
	SetOutputDir(dir)
	t.Cleanup(func() { SetOutputDir("") })
	sent := 0
	oldUpdate := updateHTML
	updateHTML = func(id, html string) { sent++ }
	t.Cleanup(func() { updateHTML = oldUpdate })
	live := NewLive()
	if live.Active() {
		t.Fatal("Live is active outside a notebook")
	}
	if err := live.Update(Line().Values("loss", []float64{1, 0.5})); err != nil {
		t.Fatal(err)
	}
	if err := live.Finish(Line().Values("loss", []float64{1, 0.5})); err != nil {
		t.Fatal(err)
	}
	if sent != 0 || live.Updates() != 0 {
		t.Errorf("sent %d updates outside a notebook", sent)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("wrote %d files outside a notebook", len(files))
	}
	if err := live.Update(nil); err == nil {
		t.Error("Update(nil) is not an error")
	}
}

package view

import (
	"encoding/json"
	"strings"
	"testing"
)

// fakeNotebook makes Show display into the returned slice as in a GoNB notebook, for one test.
func fakeNotebook(t *testing.T) *[]string {
	t.Helper()
	var outputs []string
	oldNB, oldHTML, oldPNG, oldSync := isNotebook, displayHTML, displayPNG, displaySync
	isNotebook = func() bool { return true }
	displayHTML = func(s string) { outputs = append(outputs, s) }
	displayPNG = func(b []byte) { outputs = append(outputs, "png:"+string(b[:8])) }
	displaySync = func() {}
	notebookPage.Lock()
	notebookPage.rc = renderCtx{}
	notebookPage.Unlock()
	t.Cleanup(func() {
		isNotebook, displayHTML, displayPNG, displaySync = oldNB, oldHTML, oldPNG, oldSync
		notebookPage.Lock()
		notebookPage.rc = renderCtx{}
		notebookPage.Unlock()
	})
	return &outputs
}

// notebookBytes is the size of a notebook holding the outputs as text/html display data.
func notebookBytes(t *testing.T, outputs []string) int {
	t.Helper()
	var outs []map[string]any
	for _, o := range outputs {
		outs = append(outs, map[string]any{"output_type": "display_data", "metadata": map[string]any{},
			"data": map[string]any{"text/html": []string{o}}})
	}
	nb := map[string]any{"nbformat": 4, "nbformat_minor": 5, "metadata": map[string]any{},
		"cells": []any{map[string]any{"cell_type": "code", "source": []string{}, "metadata": map[string]any{},
			"execution_count": 1, "outputs": outs}}}
	data, err := json.MarshalIndent(nb, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return len(data)
}

// TestShowCarriesEchartsOncePerPage shows three interactive charts and a gallery in one (fake)
// notebook: the first chart's output carries the echarts library and the others only their glue, so a
// page of three charts holds the 1-MB library once; each output still works untrusted (its PNG).
func TestShowCarriesEchartsOncePerPage(t *testing.T) {
	outputs := fakeNotebook(t)
	lib := echartsJS[len(echartsJS)/2 : len(echartsJS)/2+80]
	labels := []string{"cat", "dog"}
	charts := []Renderable{
		ConfusionMatrix(labels, [][]int{{3, 1}, {0, 4}}).Interactive(),
		Line().Values("loss", []float64{1, 0.5, 0.25}).Interactive(),
		Bars().Categories("acc").Group("m", 0.9).Interactive(),
	}
	var separate []string
	for _, c := range charts {
		separate = append(separate, c.HTML()) // each a standalone output, as before this change
		if _, err := Show(c); err != nil {
			t.Fatal(err)
		}
	}
	if len(*outputs) != 3 {
		t.Fatalf("got %d outputs, want 3", len(*outputs))
	}
	for i, o := range *outputs {
		want := 0
		if i == 0 {
			want = 1
		}
		if n := strings.Count(o, lib); n != want {
			t.Errorf("output %d carries the library %d times, want %d", i, n, want)
		}
		u := sanitizeLikeJupyterLab(o)
		if !strings.Contains(u.html, `<img src="data:image/png;base64,`) || !strings.Contains(u.html, esc(TrustHint)) {
			t.Errorf("output %d: untrusted, no PNG fallback or hint", i)
		}
	}
	before, after := notebookBytes(t, separate), notebookBytes(t, *outputs)
	t.Logf("notebook with three interactive charts: %d bytes with the library in each output, %d bytes with it once", before, after)
	if after > before-2*len(echartsJS)+len(echartsJS)/10 {
		t.Errorf("three charts: %d bytes, want about %d less than %d", after, 2*len(echartsJS), before)
	}
}

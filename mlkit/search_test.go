package mlkit

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"testing"

	"github.com/visionnb/visionnb/mlkit/internal/testshared"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// truth returns the class of an uploaded shared photo: its folder name (the tests' stand-in for a
// person looking at the picture).
var bg = context.Background()

func truth(in store.Input) string { return filepath.Base(filepath.Dir(in.Source)) }

// TestVisualSearchLabelsRealPhotos runs the labelling workflow of the tutorial on the real photos:
// upload without labels, embed with MobileNetV2, search by three example images per class, label the top
// results after unselecting wrong ones, and check the cache and the quality of the ranking.
func TestVisualSearchLabelsRealPhotos(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the real-photo search test in -short mode")
	}
	photos := testshared.Animals5(t)
	testshared.MobileNetV2(t)
	view.SetOutputDir(t.TempDir())
	app, err := Create(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	rep, err := app.Upload().Folder(photos).Run(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added) < 400 {
		t.Fatalf("uploaded %d photos", len(rep.Added))
	}
	emb, err := app.Embed(DefaultEmbedder)
	if err != nil {
		t.Fatal(err)
	}
	if emb.Computed != len(rep.Added) || len(emb.IDs) != len(rep.Added) || len(emb.Vectors[0]) != 1280 {
		t.Fatalf("embedded %d (computed %d) of %d, dim %d", len(emb.IDs), emb.Computed, len(rep.Added), len(emb.Vectors[0]))
	}
	again, err := app.Embed(DefaultEmbedder)
	if err != nil || again.Computed != 0 || len(again.IDs) != len(emb.IDs) {
		t.Fatalf("second Embed must reuse the cache: computed %d, err %v", again.Computed, err)
	}
	inputs, _ := app.Inputs()
	byClass := map[string][]int64{}
	cls := map[int64]string{}
	for _, in := range inputs {
		byClass[truth(in)] = append(byClass[truth(in)], in.ID)
		cls[in.ID] = truth(in)
	}
	var classes []string
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	const k = 20
	totalRight := 0
	for _, c := range classes {
		res, err := app.Search(DefaultEmbedder).Like(byClass[c][:3]...).Unlabelled().Run()
		if err != nil {
			t.Fatal(err)
		}
		sel := res.Select().Top(k)
		right := 0
		var wrongPos []int
		for i, h := range sel.Hits() {
			if cls[h.ID] == c {
				right++
			} else {
				wrongPos = append(wrongPos, i)
			}
		}
		t.Logf("visual search %-9s: %d/%d of the top %d are right", c, right, k, k)
		totalRight += right
		if err := sel.Unselect(wrongPos...); err != nil {
			t.Fatal(err)
		}
		n, err := sel.LabelAs(c)
		if err != nil || n != right {
			t.Fatalf("labelled %d, want %d (err %v)", n, right, err)
		}
	}
	if prec := float64(totalRight) / float64(k*len(classes)); prec < 0.8 {
		t.Errorf("visual search precision@%d = %.2f, want >= 0.8", k, prec)
	}
	// Every label records the search as its source.
	lbls, _ := app.Store().ActiveLabels(bg)
	if len(lbls) != totalRight {
		t.Fatalf("%d labels, want %d", len(lbls), totalRight)
	}
	h, _ := app.History(lbls[0].InputID)
	if h[0].Source != store.SourceSearch || h[0].Detail == "" {
		t.Fatalf("label source = %q %q", h[0].Source, h[0].Detail)
	}
	// Nearest-centroid suggestions for the rest.
	sug, err := app.SuggestFromLabels(DefaultEmbedder)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for _, s := range sug.Items {
		if cls[s.InputID] == s.Concept {
			right++
		}
	}
	acc := float64(right) / float64(len(sug.Items))
	t.Logf("nearest-centroid suggestions: %d/%d right (%.3f)", right, len(sug.Items), acc)
	if acc < 0.75 {
		t.Errorf("suggestion accuracy %.3f, want >= 0.75", acc)
	}
	// Text search with an image-only model says so.
	if _, err := app.Search(DefaultEmbedder).Text("a horse").Run(); !errors.Is(err, ErrNoTextTower) {
		t.Fatalf("text search with MobileNetV2: err = %v, want ErrNoTextTower", err)
	}
	if err := sel(app).ShowBottom(5); err != nil {
		t.Fatal(err)
	}
}

func sel(app *App) *Selection {
	res, _ := app.Search(DefaultEmbedder).Like(1).Run()
	return res.Select().Top(10)
}

package mlkit

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/internal/testshared"
	"github.com/visionnb/visionnb/mlkit/view"
)

// noEmbeddingInput soft-removes one train member of ds v1 and deletes its cached vector: Embed no longer
// covers it, but the frozen version still has it.
func noEmbeddingInput(t *testing.T, app *App) int64 {
	t.Helper()
	_, members, err := app.versionMembers("ds")
	if err != nil {
		t.Fatal(err)
	}
	id := members[0].InputID // the first train member
	if _, err := app.Remove(id); err != nil {
		t.Fatal(err)
	}
	if _, err := app.st.DB().ExecContext(context.Background(), `DELETE FROM embeddings WHERE input_id = ?`, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestLabelErrorsReportsInputsItCannotCheck: a labelled member without an embedding was silently left
// out of the check; now it is an error naming it. Too many folds for the data is an error too.
func TestLabelErrorsReportsInputsItCannotCheck(t *testing.T) {
	quietMessages(t)
	app := ruleApp(t)
	if _, err := app.LabelErrors(DefaultEmbedder, "ds", Folds(100)); err == nil || !strings.Contains(err.Error(), "100 folds") {
		t.Fatalf("100 folds on 36 inputs: err = %v", err)
	}
	if _, err := app.LabelErrors(DefaultEmbedder, "ds", Folds(3)); err != nil {
		t.Fatalf("every input embedded: %v", err)
	}
	id := noEmbeddingInput(t, app)
	_, err := app.LabelErrors(DefaultEmbedder, "ds", Folds(3))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("input %d", id)) || !strings.Contains(err.Error(), "ds v1") {
		t.Fatalf("an input without an embedding: err = %v, want an error naming input %d", err, id)
	}
}

// TestTestWarnsWhenTheLeakageCheckCannotRun: the leakage check before a test evaluation gave up
// silently when an input had no cached vector; now it says it could not run, and why.
func TestTestWarnsWhenTheLeakageCheckCannotRun(t *testing.T) {
	msgs := quietMessages(t)
	app := ruleApp(t)
	if _, err := app.Select("ds", "validation", "accuracy", "a", "b"); err != nil {
		t.Fatal(err)
	}
	id := noEmbeddingInput(t, app)
	if _, err := app.Test("ds"); err != nil {
		t.Fatal(err)
	}
	out := msgs.String()
	if !strings.Contains(out, "leakage check could not run on ds v1") || !strings.Contains(out, fmt.Sprintf("input %d first", id)) {
		t.Fatalf("messages: %q, want a notice that the leakage check could not run and why", out)
	}
}

// TestLabelErrorsTrainsFoldHeadsToConvergence: on 36 separable 8-d vectors with two planted mislabels the
// out-of-sample predictions put exactly those two, and no correct label, confidently in another class (the
// baseline filter, predicted class != label at probability >= 0.5, sees the probabilities directly). The fold heads
// trained 60 epochs, which on 24 training vectors is 60 optimiser steps: under-trained, their
// probabilities were not sure of anything. They now train a fixed number of steps, whatever the data's
// size. Confident learning (the default) flags no correct label here.
func TestLabelErrorsTrainsFoldHeadsToConvergence(t *testing.T) {
	quietMessages(t)
	app := ruleApp(t)
	// Separable classes (noise 0.3, not ruleApp's 1): the test is about the heads' training, and the
	// split below puts every photo in train, so near-duplicate grouping does not matter.
	if err := putClassVectors(app, 0.3, true); err != nil {
		t.Fatal(err)
	}
	_, members, err := app.versionMembers("ds")
	if err != nil {
		t.Fatal(err)
	}
	given := map[int64]string{}
	for _, m := range members {
		given[m.InputID] = m.Concept
	}
	// Plant two mislabels: a cat called dog, a cow called cat; freeze them in a new version.
	planted := map[int64]string{}
	for _, m := range members {
		if len(planted) == 0 && m.Concept == "cat" {
			planted[m.InputID] = "dog"
		} else if len(planted) == 1 && m.Concept == "cow" {
			planted[m.InputID] = "cat"
		}
	}
	for id, c := range planted {
		if _, err := app.Relabel(c, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.Split("all", Fractions(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	issues, err := app.LabelErrors(DefaultEmbedder, "all", Folds(3), FindIssuesBy(eval.FilterPredictedNotGiven), MinConfidence(0.5))
	if err != nil {
		t.Fatal(err)
	}
	var flagged []string
	for _, is := range issues.Items {
		flagged = append(flagged, fmt.Sprintf("#%d %s(%.2f)->%s(%.2f)", is.InputID, is.Given, is.GivenProb, is.Suggested, is.SuggestedProb))
	}
	if len(issues.Items) != 2 {
		t.Fatalf("flagged %v, want exactly the 2 planted mislabels %v (joint %+v)", flagged, planted, issues.Joint.Counts)
	}
	for _, is := range issues.Items {
		if c, ok := planted[is.InputID]; !ok || c != is.Given || is.Suggested == is.Given {
			t.Fatalf("flagged %v, want the planted %v", flagged, planted)
		}
	}
	if issues.Checked != 36 || issues.Joint == nil || issues.Filter != eval.FilterPredictedNotGiven {
		t.Errorf("issues: checked %d, filter %q, joint %v", issues.Checked, issues.Filter, issues.Joint)
	}
	cl, err := app.LabelErrors(DefaultEmbedder, "all", Folds(3))
	if err != nil {
		t.Fatal(err)
	}
	if cl.Filter != eval.FilterPruneByNoiseRate || cl.Rank != eval.RankSelfConfidence {
		t.Errorf("default method %q ranked by %q, want confident learning by self-confidence", cl.Filter, cl.Rank)
	}
	for _, is := range cl.Items {
		if _, ok := planted[is.InputID]; !ok {
			t.Errorf("confident learning flagged input %d (%s -> %s), a correct label", is.InputID, is.Given, is.Suggested)
		}
	}
}

// TestLabelErrorsFindPlantedMislabels measures the finder on the tutorial's flow: the 472 shared photos
// labelled by their folders, 8% of the labels (37) changed to another class at random, every photo in one
// provisional split, MobileNetV2-0.35 embeddings; three plantings, pooled. Confident learning must find
// >= 87% of the planted mislabels with >= 65% of its flagged list planted ones (the rest are real photos
// the model gets wrong), more precisely than the earlier finder (predicted class != label at probability
// >= 0.5). Measured: 101 of 111 found in 151 flagged (recall 0.910, precision 0.669); the baseline
// finds 110 of 111 at precision 0.556. Over four plantings (148 planted): prune-by-noise-rate (the
// default) 0.905 / 0.680, FilterBoth 0.878 / 0.703, FilterConfidentLearning 0.872 / 0.737, 10 folds
// 0.878 / 0.670, FilterPruneByClass 0.932 / 0.676.
func TestLabelErrorsFindPlantedMislabels(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: embeds 472 real photos")
	}
	quietMessages(t)
	photos := testshared.Animals5(t)
	testshared.MobileNetV2(t)
	view.SetOutputDir(t.TempDir())
	app, err := Create(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Upload().Folder(photos).LabelsFromFolders().Run(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Embed(DefaultEmbedder); err != nil {
		t.Fatal(err)
	}
	ins, err := app.Inputs()
	if err != nil {
		t.Fatal(err)
	}
	classes := []string{"butterfly", "dog", "elephant", "horse", "sheep"}
	sort.Slice(ins, func(i, j int) bool { return ins[i].ID < ins[j].ID })
	// Three plantings of 8% noise (37 of 472 each), pooled: one planting's recall moves by 2.7 points per
	// photo, and the finder is tuned for the general case, not one draw.
	var found, planted, flagged, baseFound, baseFlagged int
	for seed := int64(1); seed <= 3; seed++ {
		for _, in := range ins {
			if _, err := app.Relabel(truth(in), in.ID); err != nil {
				t.Fatal(err)
			}
		}
		r := rand.New(rand.NewSource(seed))
		wrong := map[int64]string{} // id -> true class
		for _, i := range r.Perm(len(ins))[:len(ins)*8/100] {
			in := ins[i]
			c := truth(in)
			given := classes[(slices.Index(classes, c)+1+r.Intn(len(classes)-1))%len(classes)]
			if _, err := app.Relabel(given, in.ID); err != nil {
				t.Fatal(err)
			}
			wrong[in.ID] = c
		}
		ds := fmt.Sprintf("review%d", seed)
		if _, err := app.Split(ds, Fractions(1, 0, 0)); err != nil {
			t.Fatal(err)
		}
		measure := func(name string, opts ...LabelErrorOption) (hit, n int) {
			t.Helper()
			li, err := app.LabelErrors(DefaultEmbedder, ds, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, is := range li.Items {
				if c, ok := wrong[is.InputID]; ok {
					hit++
					if is.Suggested != c {
						t.Logf("%s, planting %d: planted input %d found, suggested %s, truly %s", name, seed, is.InputID, is.Suggested, c)
					}
				}
			}
			t.Logf("%s, planting %d: %d flagged of %d, %d of %d planted found", name, seed, len(li.Items), li.Checked, hit, len(wrong))
			return hit, len(li.Items)
		}
		hit, n := measure("confident learning")
		found, flagged, planted = found+hit, flagged+n, planted+len(wrong)
		hit, n = measure("predicted != given at >= 0.5", FindIssuesBy(eval.FilterPredictedNotGiven), MinConfidence(0.5))
		baseFound, baseFlagged = baseFound+hit, baseFlagged+n
	}
	recall, precision := float64(found)/float64(planted), float64(found)/float64(max(flagged, 1))
	base := float64(baseFound) / float64(max(baseFlagged, 1))
	t.Logf("confident learning, 3 plantings pooled: %d flagged, %d of %d planted found: recall %.3f, precision %.3f (baseline precision %.3f)",
		flagged, found, planted, recall, precision, base)
	if recall < 0.87 || precision < 0.65 {
		t.Errorf("confident learning: recall %.3f (want >= 0.87), precision %.3f (want >= 0.65)", recall, precision)
	}
	if precision <= base {
		t.Errorf("confident learning's precision %.3f is not above the baseline's %.3f", precision, base)
	}
}

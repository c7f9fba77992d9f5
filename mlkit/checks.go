package mlkit

import (
	"context"
	"fmt"
	"sort"

	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/train"
	"github.com/visionnb/visionnb/mlkit/view"
)

// LeakageOption adjusts App.Leakage.
type LeakageOption func(*leakageOptions)

type leakageOptions struct{ threshold float32 }

// SimilarAbove sets the cosine similarity from which two images count as near duplicates (default
// eval.DefaultLeakageThreshold); it must be in (0, 1].
func SimilarAbove(threshold float32) LeakageOption {
	return func(o *leakageOptions) { o.threshold = threshold }
}

// CheckedData says what a check (App.Leakage, App.LabelErrors) looked at.
type CheckedData struct {
	app      *App
	Embedder string
	Dataset  string
	Version  int
}

// LeakageReport lists near-duplicate images across the splits of a dataset version.
type LeakageReport struct {
	CheckedData
	// Threshold is the cosine similarity the pairs reach at least.
	Threshold float32
	// Pairs are the near duplicates, most similar first.
	Pairs []eval.NearDuplicate
}

// Leakage lists near-duplicate images across the train, validation and test splits of a dataset's latest
// version, by cosine similarity of their embeddings from embedder (computed when missing). Check it
// before trusting a test score: a test image that is a copy of a training image measures memory, not skill.
func (a *App) Leakage(embedder, dataset string, opts ...LeakageOption) (*LeakageReport, error) {
	o := leakageOptions{threshold: eval.DefaultLeakageThreshold}
	for _, f := range opts {
		f(&o)
	}
	v, members, err := a.versionMembers(dataset)
	if err != nil {
		return nil, err
	}
	emb, err := a.Embed(embedder)
	if err != nil {
		return nil, err
	}
	splits, _ := splitVectors(members, emb.Vector)
	pairs, err := eval.Leakage(splits, o.threshold)
	if err != nil {
		return nil, fmt.Errorf("mlkit: leakage check of %s v%d: %w", dataset, v.Number, err)
	}
	return &LeakageReport{CheckedData: CheckedData{app: a, Embedder: embedder, Dataset: dataset, Version: v.Number}, Threshold: o.threshold, Pairs: pairs}, nil
}

// splitVectors groups the members' vectors by split, in store.Splits order, for eval.Leakage; vector
// returns an input's vector, nil when it has none. The members without one are returned apart.
func splitVectors(members []store.Member, vector func(id int64) []float32) (splits []eval.SplitVectors, missing []int64) {
	for _, s := range store.Splits {
		sv := eval.SplitVectors{Split: string(s)}
		for _, m := range members {
			if m.Split != s {
				continue
			}
			if v := vector(m.InputID); v != nil {
				sv.IDs, sv.Vectors = append(sv.IDs, m.InputID), append(sv.Vectors, v)
			} else {
				missing = append(missing, m.InputID)
			}
		}
		splits = append(splits, sv)
	}
	return splits, missing
}

// Show displays the near-duplicate pairs side by side (or says there are none).
func (r *LeakageReport) Show() error {
	if len(r.Pairs) == 0 {
		fmt.Println("leakage check: no near-duplicate images across train, validation and test")
		return nil
	}
	g := view.Gallery().Title(fmt.Sprintf("leakage check: %d near-duplicate pairs across splits", len(r.Pairs))).Columns(6).PageSize(36).ThumbSize(112)
	for _, p := range r.Pairs {
		for _, x := range []struct {
			id    int64
			split string
		}{{p.A, p.SplitA}, {p.B, p.SplitB}} {
			in, err := r.app.st.Input(context.Background(), x.id)
			if err != nil {
				return fmt.Errorf("mlkit: leakage pair input %d: %w", x.id, err)
			}
			g.Add(view.Item{ID: fmt.Sprint(in.ID), Image: r.app.st.ThumbPath(in.SHA256), Caption: in.FileName,
				Label: x.split, Score: float64(p.Similarity), Color: view.ColorUncertain})
		}
	}
	_, err := g.Show()
	return err
}

// warnLeakage prints a warning before a test evaluation when near-duplicates of test images sit in train
// or validation (using the default embedder's cached vectors; nothing is computed when they are missing).
// When the check cannot run, it says so and why: the evaluation goes on without it.
func (a *App) warnLeakage(dataset string, version int, members []store.Member) {
	cached, err := a.st.Embeddings(context.Background(), DefaultEmbedder, nil)
	if err != nil {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: reading the cached %s embeddings: %v (check with app.Leakage(mlkit.DefaultEmbedder, %q))\n",
			dataset, version, DefaultEmbedder, err, dataset)
		return
	}
	splits, missing := splitVectors(members, func(id int64) []float32 { return cached[id] })
	if len(missing) > 0 {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: %d of its %d inputs (input %d first) have no cached %s embedding, so the check would be partial; run app.Leakage(mlkit.DefaultEmbedder, %q) to embed them and check\n",
			dataset, version, len(missing), len(members), missing[0], DefaultEmbedder, dataset)
		return
	}
	pairs, err := eval.Leakage(splits, eval.DefaultLeakageThreshold)
	if err != nil {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: %v\n", dataset, version, err)
		return
	}
	n := 0
	for _, p := range pairs {
		if p.SplitA == string(store.Test) || p.SplitB == string(store.Test) {
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(Messages, "⚠ leakage: %d test images have near-duplicates in train or validation (see app.Leakage(mlkit.DefaultEmbedder, %q)); the test score may be optimistic\n", n, dataset)
	} else {
		fmt.Fprintln(Messages, "leakage check: no test image has a near-duplicate in train or validation")
	}
}

// LabelIssue is an input whose given label disagrees with confident out-of-sample predictions.
type LabelIssue struct {
	InputID int64
	Given   string
	// Suggested is the class the cross-validated model prefers, with its probability; GivenProb is the
	// probability it gives the current label.
	Suggested     string
	SuggestedProb float64
	GivenProb     float64
}

// LabelErrorOption adjusts App.LabelErrors.
type LabelErrorOption func(*labelErrorOptions)

type labelErrorOptions struct {
	folds         int
	minConfidence float64
}

// Folds sets the number of cross-validation folds (default 5, at least 2).
func Folds(n int) LabelErrorOption { return func(o *labelErrorOptions) { o.folds = n } }

// MinConfidence sets the probability another class must reach for an input to be reported (default
// 0.5, from 0 to 1).
func MinConfidence(p float64) LabelErrorOption {
	return func(o *labelErrorOptions) { o.minConfidence = p }
}

// LabelIssues are the likely mislabels of a dataset version, most likely first.
type LabelIssues struct {
	CheckedData
	Items []LabelIssue
}

// LabelErrors finds likely mislabels among the labelled inputs of a dataset's latest version: it trains
// Folds linear heads on embedder's cached embeddings, each predicting the inputs it did not see (cross-
// validation, so no input is judged by a model that learned its label), and ranks the inputs whose given
// label gets a low probability while another class is confident (at least MinConfidence). Most likely
// errors first. Every labelled input is checked: one without an embedding is an error, not skipped.
func (a *App) LabelErrors(embedder, dataset string, opts ...LabelErrorOption) (*LabelIssues, error) {
	o := labelErrorOptions{folds: 5, minConfidence: 0.5}
	for _, f := range opts {
		f(&o)
	}
	folds, minConfidence := o.folds, o.minConfidence
	if folds < 2 {
		return nil, fmt.Errorf("mlkit: label errors: Folds(%d): want at least 2", folds)
	}
	if !(minConfidence >= 0 && minConfidence <= 1) {
		return nil, fmt.Errorf("mlkit: label errors: MinConfidence(%g): want a probability from 0 to 1", minConfidence)
	}
	v, members, err := a.versionMembers(dataset)
	if err != nil {
		return nil, err
	}
	classes := classesOf(members)
	if len(classes) < 2 {
		return nil, fmt.Errorf("mlkit: label errors: dataset %q needs at least 2 labelled classes", dataset)
	}
	label := map[string]int{}
	for i, c := range classes {
		label[c] = i
	}
	emb, err := a.Embed(embedder)
	if err != nil {
		return nil, err
	}
	var all []train.Embedded
	var unembedded []int64
	for _, m := range members {
		if m.Concept == "" {
			continue
		}
		vec := emb.Vector(m.InputID)
		if vec == nil {
			unembedded = append(unembedded, m.InputID)
			continue
		}
		all = append(all, train.Embedded{ID: m.InputID, Vector: vec, Label: label[m.Concept]})
	}
	if len(unembedded) > 0 {
		return nil, fmt.Errorf("mlkit: label errors on %s v%d: %d labelled inputs have no %s embedding (input %d first; removed since the split?), so they cannot be checked: make a new version with app.Split, which drops removed inputs",
			dataset, v.Number, len(unembedded), embedder, unembedded[0])
	}
	if len(all) < folds {
		return nil, fmt.Errorf("mlkit: label errors on %s v%d: %d labelled inputs for %d folds: every fold needs at least one", dataset, v.Number, len(all), folds)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	var issues []LabelIssue
	for f := 0; f < folds; f++ {
		var tr, held []train.Embedded
		for i, e := range all {
			if i%folds == f {
				held = append(held, e)
			} else {
				tr = append(tr, e)
			}
		}
		res, err := train.Head(classes, tr, nil).With(train.HeadDefaults().Epochs(60).Seed(int64(f)).Quiet()).Fit()
		if err != nil {
			return nil, fmt.Errorf("mlkit: label errors, fold %d: %w", f+1, err)
		}
		vecs := make([][]float32, len(held))
		for i, e := range held {
			vecs[i] = e.Vector
		}
		probs, err := res.Predictor.PredictVectors(vecs)
		if err != nil {
			return nil, fmt.Errorf("mlkit: label errors, fold %d: %w", f+1, err)
		}
		if len(probs) != len(held) {
			return nil, fmt.Errorf("mlkit: label errors, fold %d: %d predictions for %d inputs", f+1, len(probs), len(held))
		}
		for i, e := range held {
			best := eval.Argmax(probs[i])
			if best != e.Label && float64(probs[i][best]) >= minConfidence {
				issues = append(issues, LabelIssue{InputID: e.ID, Given: classes[e.Label], Suggested: classes[best],
					SuggestedProb: float64(probs[i][best]), GivenProb: float64(probs[i][e.Label])})
			}
		}
	}
	sort.Slice(issues, func(i, j int) bool { return issues[i].GivenProb < issues[j].GivenProb })
	return &LabelIssues{CheckedData: CheckedData{app: a, Embedder: embedder, Dataset: dataset, Version: v.Number}, Items: issues}, nil
}

// Show displays the likely mislabels for review: fix each with app.Relabel(concept, id).
func (li *LabelIssues) Show() error {
	a, issues := li.app, li.Items
	g := view.Gallery().Title(fmt.Sprintf("%d likely label errors (cross-validated): given → suggested", len(issues))).Columns(6).PageSize(36).ThumbSize(128)
	for _, is := range issues {
		in, err := a.st.Input(context.Background(), is.InputID)
		if err != nil {
			return err
		}
		g.Add(view.Item{ID: fmt.Sprint(in.ID), Image: a.st.ThumbPath(in.SHA256), Caption: fmt.Sprintf("#%d %s", in.ID, in.FileName),
			Label: fmt.Sprintf("%s (%.2f) → %s (%.2f)", is.Given, is.GivenProb, is.Suggested, is.SuggestedProb), Color: view.ColorWrong})
	}
	_, err := g.Show()
	return err
}

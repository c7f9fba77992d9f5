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

// Leakage lists near-duplicate images across the train, validation and test splits of a dataset's latest
// version, by cosine similarity of their embeddings (threshold 0 = eval.DefaultLeakageThreshold). Check it
// before trusting a test score: a test image that is a copy of a training image measures memory, not skill.
func (a *App) Leakage(dataset, embedder string, threshold float32) ([]eval.NearDuplicate, error) {
	if threshold == 0 {
		threshold = eval.DefaultLeakageThreshold
	}
	_, members, err := a.versionMembers(dataset)
	if err != nil {
		return nil, err
	}
	emb, err := a.Embed(embedder)
	if err != nil {
		return nil, err
	}
	var splits []eval.SplitVectors
	for _, s := range store.Splits {
		sv := eval.SplitVectors{Split: string(s)}
		for _, m := range members {
			if m.Split == s {
				if v := emb.Vector(m.InputID); v != nil {
					sv.IDs, sv.Vectors = append(sv.IDs, m.InputID), append(sv.Vectors, v)
				}
			}
		}
		splits = append(splits, sv)
	}
	return eval.Leakage(splits, threshold)
}

// ShowLeakage displays the near-duplicate pairs side by side (or says there are none).
func (a *App) ShowLeakage(pairs []eval.NearDuplicate) error {
	if len(pairs) == 0 {
		fmt.Println("leakage check: no near-duplicate images across train, validation and test")
		return nil
	}
	g := view.Gallery().Title(fmt.Sprintf("leakage check: %d near-duplicate pairs across splits", len(pairs))).Columns(6).PageSize(36).ThumbSize(112)
	for _, p := range pairs {
		for _, x := range []struct {
			id    int64
			split string
		}{{p.A, p.SplitA}, {p.B, p.SplitB}} {
			in, err := a.st.Input(context.Background(), x.id)
			if err != nil {
				return err
			}
			g.Add(view.Item{ID: fmt.Sprint(in.ID), Image: a.st.ThumbPath(in.SHA256), Caption: in.FileName,
				Label: x.split, Score: float64(p.Similarity), Color: view.ColorUncertain})
		}
	}
	_, err := g.Show()
	return err
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

// LabelErrors finds likely mislabels among the labelled inputs of a dataset's latest version: it trains
// `folds` linear heads on the cached embeddings, each predicting the inputs it did not see (cross-
// validation, so no input is judged by a model that learned its label), and ranks the inputs whose given
// label gets a low probability while another class is confident (at least minConfidence). Most likely
// errors first. Every labelled input is checked: one without an embedding is an error, not skipped.
func (a *App) LabelErrors(dataset, embedder string, folds int, minConfidence float64) ([]LabelIssue, error) {
	if folds < 2 {
		folds = 5
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
			best := 0
			for c := range probs[i] {
				if probs[i][c] > probs[i][best] {
					best = c
				}
			}
			if best != e.Label && float64(probs[i][best]) >= minConfidence {
				issues = append(issues, LabelIssue{InputID: e.ID, Given: classes[e.Label], Suggested: classes[best],
					SuggestedProb: float64(probs[i][best]), GivenProb: float64(probs[i][e.Label])})
			}
		}
	}
	sort.Slice(issues, func(i, j int) bool { return issues[i].GivenProb < issues[j].GivenProb })
	return issues, nil
}

// ShowLabelIssues displays likely mislabels for review: fix each with app.Relabel(concept, id).
func (a *App) ShowLabelIssues(issues []LabelIssue) error {
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

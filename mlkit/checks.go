package mlkit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/train"
	"github.com/visionnb/visionnb/mlkit/view"
)

// LeakageOption adjusts App.Leakage.
type LeakageOption func(*leakageOptions)

type leakageOptions struct{ rule eval.DuplicateRule }

// SimilarAbove sets the cosine similarity from which two images count as near duplicates whatever their
// perceptual hashes (default eval.DefaultLeakageThreshold); it must be in (0, 1].
func SimilarAbove(threshold float32) LeakageOption {
	return func(o *leakageOptions) { o.rule.Cosine = threshold }
}

// DuplicatesBy replaces the whole near-duplicate rule (default eval.DefaultDuplicateRule).
func DuplicatesBy(rule eval.DuplicateRule) LeakageOption {
	return func(o *leakageOptions) { o.rule = rule }
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
	// Threshold is the cosine similarity from which pairs are near duplicates whatever their hashes;
	// Rule is the whole rule.
	Threshold float32
	Rule      eval.DuplicateRule
	// Pairs are the near duplicates, most similar first.
	Pairs []eval.NearDuplicate
}

// Leakage lists near-duplicate images across the train, validation and test splits of a dataset's latest
// version, by the perceptual hashes of their thumbnails (computed and stored when missing) combined with
// the cosine similarity of their embeddings from embedder (computed when missing); see
// eval.DefaultDuplicateRule. Check it before trusting a test score: a test image that is a copy of a
// training image measures memory, not skill (App.Test warns when it finds one).
func (a *App) Leakage(embedder, dataset string, opts ...LeakageOption) (*LeakageReport, error) {
	o := leakageOptions{rule: eval.DefaultDuplicateRule}
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
	if o.rule.Cosine <= 0 || o.rule.Cosine > 1 {
		return nil, fmt.Errorf("mlkit: leakage check of %s v%d: SimilarAbove(%v): want a cosine in (0, 1]", dataset, v.Number, o.rule.Cosine)
	}
	splits, _ := splitVectors(members, emb.Vector)
	if err := a.withHashes(splits); err != nil {
		return nil, fmt.Errorf("mlkit: leakage check of %s v%d: %w", dataset, v.Number, err)
	}
	pairs, err := eval.NearDuplicates(splits, o.rule)
	if err != nil {
		return nil, fmt.Errorf("mlkit: leakage check of %s v%d: %w", dataset, v.Number, err)
	}
	return &LeakageReport{CheckedData: CheckedData{app: a, Embedder: embedder, Dataset: dataset, Version: v.Number}, Threshold: o.rule.Cosine, Rule: o.rule, Pairs: pairs}, nil
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
	g := view.Gallery().Title(fmt.Sprintf("leakage check: %s across splits", view.Count(len(r.Pairs), "near-duplicate pair"))).Columns(6).PageSize(36).ThumbSize(112)
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

// ErrLeakage is what App.Test's refusal for leakage matches (errors.Is); the error is a *LeakageError.
var ErrLeakage = errors.New("test images have near duplicates in train or validation")

// LeakageError is App.Test refusing to evaluate because some test images have near duplicates in train
// or validation (the score would be optimistic): it names them, and the ways on.
type LeakageError struct {
	Dataset string
	Version int
	// Pairs are the near-duplicate pairs with a test image, most similar first.
	Pairs []eval.NearDuplicate
	// TestImages is how many distinct test images they involve.
	TestImages int
}

// Is makes errors.Is(err, ErrLeakage) hold.
func (e *LeakageError) Is(target error) bool { return target == ErrLeakage }

// Reason says what was found, without the ways on.
func (e *LeakageError) Reason() string {
	var ex []string
	for _, p := range e.Pairs[:min(len(e.Pairs), 3)] {
		ex = append(ex, fmt.Sprintf("input %d (%s) ~ input %d (%s), cosine %.2f", p.A, p.SplitA, p.B, p.SplitB, p.Similarity))
	}
	more := ""
	if len(e.Pairs) > 3 {
		more = fmt.Sprintf(", and %d more", len(e.Pairs)-3)
	}
	return fmt.Sprintf("%s of %s v%d %s near duplicates in train or validation, so the test score would be optimistic (%s%s)",
		view.Count(e.TestImages, "test image"), e.Dataset, e.Version, map[bool]string{true: "has", false: "have"}[e.TestImages == 1], strings.Join(ex, "; "), more)
}

// Error is the message for Go callers: the reason and the ways on.
func (e *LeakageError) Error() string {
	return fmt.Sprintf("mlkit: test: %s: look with app.Leakage(mlkit.DefaultEmbedder, %q).Show(), then remove one copy of each pair (app.Remove) and split again, or pass mlkit.AcknowledgeLeakage(reason) to evaluate anyway (the reason is recorded and the result flagged)",
		e.Reason(), e.Dataset)
}

// testLeaks returns the near-duplicate pairs between the test split and train or validation (the default
// embedder's cached vectors and the thumbnails' perceptual hashes, by eval.DefaultDuplicateRule; nothing
// is embedded when vectors are missing). When the check cannot run, it says so on Messages and why, and
// returns none: the evaluation goes on without it.
func (a *App) testLeaks(dataset string, version int, members []store.Member) []eval.NearDuplicate {
	cached, err := a.st.Embeddings(context.Background(), DefaultEmbedder, nil)
	if err != nil {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: reading the cached %s embeddings: %v (check with app.Leakage(mlkit.DefaultEmbedder, %q))\n",
			dataset, version, DefaultEmbedder, err, dataset)
		return nil
	}
	splits, missing := splitVectors(members, func(id int64) []float32 { return cached[id] })
	if len(missing) > 0 {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: %d of its %d inputs (input %d first) have no cached %s embedding, so the check would be partial; run app.Leakage(mlkit.DefaultEmbedder, %q) to embed them and check\n",
			dataset, version, len(missing), len(members), missing[0], DefaultEmbedder, dataset)
		return nil
	}
	if err := a.withHashes(splits); err != nil {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: %v\n", dataset, version, err)
		return nil
	}
	pairs, err := eval.NearDuplicates(splits, eval.DefaultDuplicateRule)
	if err != nil {
		fmt.Fprintf(Messages, "⚠ leakage check could not run on %s v%d: %v\n", dataset, version, err)
		return nil
	}
	var leaks []eval.NearDuplicate
	for _, p := range pairs {
		if p.SplitA == string(store.Test) || p.SplitB == string(store.Test) {
			leaks = append(leaks, p)
		}
	}
	if len(leaks) == 0 {
		fmt.Fprintln(Messages, "leakage check: no test image has a near duplicate in train or validation")
	}
	return leaks
}

// testImagesIn counts the distinct test images in pairs.
func testImagesIn(pairs []eval.NearDuplicate) int {
	ids := map[int64]bool{}
	for _, p := range pairs {
		if p.SplitA == string(store.Test) {
			ids[p.A] = true
		}
		if p.SplitB == string(store.Test) {
			ids[p.B] = true
		}
	}
	return len(ids)
}

// LabelIssue is an input whose given label is likely wrong: out-of-sample predictions confidently put it
// in another class.
type LabelIssue struct {
	InputID int64
	Given   string
	// Suggested is the class the cross-validated model prefers, with its probability; GivenProb is the
	// probability it gives the current label.
	Suggested     string
	SuggestedProb float64
	GivenProb     float64
	// Quality is the label-quality score the issues are ranked by (see RankIssuesBy), lowest first.
	Quality float64
}

// LabelErrorOption adjusts App.LabelErrors.
type LabelErrorOption func(*labelErrorOptions)

type labelErrorOptions struct {
	folds         int
	minConfidence float64
	filter        eval.IssueFilter
	rank          eval.IssueRank
}

// Folds sets the number of cross-validation folds (default 5, at least 2).
func Folds(n int) LabelErrorOption { return func(o *labelErrorOptions) { o.folds = n } }

// MinConfidence keeps only the issues whose suggested class reaches probability p (default 0: every
// issue the method finds; from 0 to 1). With FindIssuesBy(eval.FilterPredictedNotGiven) and 0.5 it is
// the finder of earlier versions.
func MinConfidence(p float64) LabelErrorOption {
	return func(o *labelErrorOptions) { o.minConfidence = p }
}

// FindIssuesBy chooses how the issues are found from the out-of-sample probabilities (default
// eval.FilterPruneByNoiseRate, confident learning as cleanlab does it; see eval.IssueFilter).
func FindIssuesBy(f eval.IssueFilter) LabelErrorOption {
	return func(o *labelErrorOptions) { o.filter = f }
}

// RankIssuesBy chooses the label-quality score the issues are ordered by, least likely correct first
// (default eval.RankSelfConfidence; eval.RankNormalizedMargin also weighs the best other class).
func RankIssuesBy(r eval.IssueRank) LabelErrorOption {
	return func(o *labelErrorOptions) { o.rank = r }
}

// labelErrorSteps is the optimiser steps each fold head trains for (AdamW at the head's default LR
// 1e-3), whatever the data's size: a fixed epoch count trained large sets only (60 epochs of 48 vectors
// are 60 steps). Measured on the shared photos' MobileNetV2 embeddings with 8% planted noise
// (TestLabelErrorsFindPlantedMislabels): 1000 steps find 36 of 38 at precision 0.80, where more steps,
// a larger LR or an L2 penalty make the heads over- or under-confident and lower the precision.
const labelErrorSteps = 1000

// LabelIssues are the likely mislabels of a dataset version, most likely first.
type LabelIssues struct {
	CheckedData
	Items []LabelIssue
	// Classes are the labelled classes, in the order of Joint's rows and columns.
	Classes []string
	// Joint is the confident joint of the checked inputs: Joint.Counts[i][j] inputs labelled Classes[i]
	// are confidently of Classes[j]; its off-diagonal estimates the label noise.
	Joint *eval.ConfidentJoint
	// Checked is the number of labelled inputs checked; Filter and Rank the method used.
	Checked int
	Filter  eval.IssueFilter
	Rank    eval.IssueRank
}

// LabelErrors finds likely mislabels among the labelled inputs of a dataset's latest version by confident
// learning: it trains Folds linear heads on embedder's cached embeddings, each predicting the inputs it did
// not see (stratified cross-validation, so no input is judged by a model that learned its label), and from
// these out-of-sample probabilities finds the inputs confidently of another class than their label
// (per-class thresholds at the mean self-confidence, the confident joint, pruned by noise rate; see
// eval.FindLabelIssues). Most likely errors first. Every labelled input is checked: one without an
// embedding is an error, not skipped.
func (a *App) LabelErrors(embedder, dataset string, opts ...LabelErrorOption) (*LabelIssues, error) {
	o := labelErrorOptions{folds: 5, filter: eval.FilterPruneByNoiseRate, rank: eval.RankSelfConfidence}
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
	if err := o.filter.Check(); err != nil {
		return nil, fmt.Errorf("mlkit: label errors: FindIssuesBy: %w", err)
	}
	if err := o.rank.Check(); err != nil {
		return nil, fmt.Errorf("mlkit: label errors: RankIssuesBy: %w", err)
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
	probs, err := outOfSampleProbs(classes, all, folds)
	if err != nil {
		return nil, fmt.Errorf("mlkit: label errors on %s v%d: %w", dataset, v.Number, err)
	}
	labels := make([]int, len(all))
	for i, e := range all {
		labels[i] = e.Label
	}
	joint, err := eval.ComputeConfidentJoint(labels, probs)
	if err != nil {
		return nil, fmt.Errorf("mlkit: label errors on %s v%d: %w", dataset, v.Number, err)
	}
	found, err := eval.FindLabelIssues(labels, probs, eval.LabelIssueOptions{Filter: o.filter, Rank: o.rank})
	if err != nil {
		return nil, fmt.Errorf("mlkit: label errors on %s v%d: %w", dataset, v.Number, err)
	}
	quality, err := eval.LabelQuality(labels, probs, o.rank)
	if err != nil {
		return nil, fmt.Errorf("mlkit: label errors on %s v%d: %w", dataset, v.Number, err)
	}
	var issues []LabelIssue
	for _, n := range found {
		e, p := all[n], probs[n]
		best := eval.Argmax(p)
		if float64(p[best]) < minConfidence {
			continue
		}
		issues = append(issues, LabelIssue{InputID: e.ID, Given: classes[e.Label], Suggested: classes[best],
			SuggestedProb: float64(p[best]), GivenProb: float64(p[e.Label]), Quality: quality[n]})
	}
	return &LabelIssues{CheckedData: CheckedData{app: a, Embedder: embedder, Dataset: dataset, Version: v.Number}, Items: issues,
		Classes: classes, Joint: joint, Checked: len(all), Filter: o.filter, Rank: o.rank}, nil
}

// outOfSampleProbs returns, for every input of all (in order), the class probabilities of a linear head
// trained on the other folds: stratified folds (each class dealt round the folds in all's order), each
// head trained labelErrorSteps steps.
func outOfSampleProbs(classes []string, all []train.Embedded, folds int) ([][]float32, error) {
	fold := make([]int, len(all))
	dealt := map[int]int{}
	for i, e := range all {
		fold[i] = dealt[e.Label] % folds
		dealt[e.Label]++
	}
	probs := make([][]float32, len(all))
	for f := 0; f < folds; f++ {
		var tr, held []train.Embedded
		var heldAt []int
		for i, e := range all {
			if fold[i] == f {
				held, heldAt = append(held, e), append(heldAt, i)
			} else {
				tr = append(tr, e)
			}
		}
		if len(held) == 0 {
			continue
		}
		if len(tr) == 0 {
			return nil, fmt.Errorf("fold %d of %d has no training input", f+1, folds)
		}
		opts := train.HeadDefaults()
		opts = opts.Epochs(train.EpochsForSteps(len(tr), opts.Settings.BatchSize, labelErrorSteps)).Seed(int64(f)).Quiet()
		res, err := train.Head(classes, tr, nil).With(opts).Fit()
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", f+1, err)
		}
		vecs := make([][]float32, len(held))
		for i, e := range held {
			vecs[i] = e.Vector
		}
		p, err := res.Predictor.PredictVectors(vecs)
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", f+1, err)
		}
		if len(p) != len(held) {
			return nil, fmt.Errorf("fold %d: %d predictions for %d inputs", f+1, len(p), len(held))
		}
		for i, at := range heldAt {
			probs[at] = p[i]
		}
	}
	return probs, nil
}

// Show displays the likely mislabels for review: fix each with app.Relabel(concept, id).
func (li *LabelIssues) Show() error {
	a, issues := li.app, li.Items
	g := view.Gallery().Title(fmt.Sprintf("%d likely label errors of %d (confident learning, %s): given → suggested", len(issues), li.Checked, li.Filter)).Columns(6).PageSize(36).ThumbSize(128)
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

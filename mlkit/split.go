package mlkit

import (
	"context"
	"fmt"
	"sort"

	"github.com/visionnb/visionnb/mlkit/dataset"
	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// Split names one part of a dataset version: SplitTrain, SplitValidation or SplitTest (untyped strings
// such as "validation" convert to it).
type Split = store.Split

// The three splits of every dataset version.
const (
	SplitTrain      = store.Train
	SplitValidation = store.Validation
	SplitTest       = store.Test
)

// SplitSpec says how to split labelled inputs into train, validation and test (see dataset.SplitSpec).
type SplitSpec = dataset.SplitSpec

// Version is a frozen dataset version with its per-split, per-class counts (see dataset.Version).
type Version = dataset.Version

// Counts returns a split spec with these train, validation and test sizes, e.g. Counts(500, 100, 100).
func Counts(train, validation, test int) SplitSpec { return dataset.Counts(train, validation, test) }

// Fractions returns a split spec with these shares, e.g. Fractions(0.7, 0.15, 0.15).
func Fractions(train, validation, test float64) SplitSpec {
	return dataset.Fractions(train, validation, test)
}

// KFold returns the spec of fold index (0-based) of a stratified k-fold cross-validation: validation is
// that fold, train the other k-1, test empty; the k folds of one seed put every labelled input in
// validation exactly once. Split each fold under its own dataset name, e.g.
//
//	for i := range 5 {
//		app.Split(fmt.Sprintf("cv%d", i), mlkit.KFold(5, i).WithSeed(42))
//	}
func KFold(k, index int) SplitSpec { return dataset.KFold(k, index) }

// Split freezes a new version of the dataset called name: the labelled inputs split into train, validation
// and test per spec, stratified by class. Later versions keep every earlier member in its split and only
// assign new inputs (see dataset.CreateVersion). Running it again with the same spec on the same labelled
// inputs returns the latest version as is (Version.Reused), so a notebook re-runs without making new
// versions; a changed spec that only assigned new inputs prints its Version.Warning to Messages.
//
// Near duplicates go to one split (so a copy in train cannot leak into test): perceptual hashes of every
// labelled input and the default embedder's vectors, by eval.DefaultDuplicateRule, the rule App.Test's
// leak check applies (see SplitSpec.Together, Version.Regrouped). Inputs without a cached vector are
// embedded first (App.Embed(DefaultEmbedder), with its progress line); where that fails (no weights
// offline) the split groups by hash alone and says so. A spec whose Together is already set is used as is.
func (a *App) Split(name string, spec SplitSpec) (*Version, error) {
	if spec.Together == nil {
		together, err := a.nearDuplicateGroups()
		if err != nil {
			return nil, fmt.Errorf("mlkit: split %q: %w", name, err)
		}
		spec.Together = together
	}
	v, err := dataset.CreateVersion(context.Background(), a.st, name, spec)
	if err == nil && v.Warning != "" {
		fmt.Fprintln(Messages, "⚠ "+v.Warning)
	}
	if err == nil && v.Regrouped > 0 {
		fmt.Fprintf(Messages, "split %s v%d: moved %s to join their near duplicates in one split (app.Leakage shows pairs across splits)\n",
			name, v.Number, view.Count(v.Regrouped, "input"))
	}
	return v, err
}

// maxDuplicateGroupShare is the largest share of the labelled inputs one near-duplicate group may hold
// and still be kept in one split: a bigger one (a chain through many similar photos, or a folder of
// near-blank frames) would empty the other splits of its class, so it is left to the stratified split.
const maxDuplicateGroupShare = 0.1

// nearDuplicateGroups maps every labelled input in a near-duplicate group to the group's smallest id.
func (a *App) nearDuplicateGroups() (map[int64]int64, error) {
	ctx := context.Background()
	labels, err := a.st.ActiveLabels(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	set := eval.SplitVectors{}
	for _, l := range labels {
		if !seen[l.InputID] {
			seen[l.InputID] = true
			set.IDs = append(set.IDs, l.InputID)
		}
	}
	if len(set.IDs) < 2 {
		return nil, nil
	}
	cached, err := a.st.Embeddings(ctx, DefaultEmbedder, set.IDs)
	if err != nil {
		return nil, err
	}
	if len(cached) < len(set.IDs) {
		// The leak check before the test evaluation compares embeddings too: a split made on hashes alone
		// would be refused there for look-alikes (a photo shot twice) it could have kept together.
		if emb, err := a.Embed(DefaultEmbedder); err != nil {
			fmt.Fprintf(Messages, "⚠ split: near duplicates found by perceptual hash only: %v\n", err)
		} else {
			for _, id := range set.IDs {
				if v := emb.Vector(id); v != nil {
					cached[id] = v
				}
			}
		}
	}
	if len(cached) == len(set.IDs) {
		for _, id := range set.IDs {
			set.Vectors = append(set.Vectors, cached[id])
		}
	}
	sets := []eval.SplitVectors{set}
	if err := a.withHashes(sets); err != nil {
		return nil, err
	}
	groups, err := eval.DuplicateGroups(sets[0], eval.DefaultDuplicateRule)
	if err != nil {
		return nil, err
	}
	together := map[int64]int64{}
	limit := max(2, int(maxDuplicateGroupShare*float64(len(set.IDs))))
	for _, g := range groups {
		if len(g) > limit {
			fmt.Fprintf(Messages, "⚠ split: %s (input %d first) are near duplicates of each other, more than %.0f%% of the labelled inputs: not kept in one split\n",
				view.Count(len(g), "input"), g[0], 100*maxDuplicateGroupShare)
			continue
		}
		for _, id := range g {
			together[id] = g[0]
		}
	}
	return together, nil
}

// CreateDataset is Split under the name the tutorial uses for its first version.
func (a *App) CreateDataset(name string, spec SplitSpec) (*Version, error) {
	return a.Split(name, spec)
}

// Version returns version number of dataset name, 0 meaning the latest.
func (a *App) Version(name string, number int) (*Version, error) {
	return dataset.OpenVersion(context.Background(), a.st, name, number)
}

// Versions lists every dataset version, by dataset then number.
func (a *App) Versions() ([]store.Version, error) { return a.st.Versions(context.Background()) }

// checkSplit returns an error unless split is one of the three splits.
func checkSplit(step string, split Split) error {
	for _, s := range store.Splits {
		if split == s {
			return nil
		}
	}
	return fmt.Errorf("mlkit: %s: split %q: use train, validation or test", step, split)
}

// SplitSample is a few inputs of one split of a dataset version, the same number from every class, to
// look at (Show).
type SplitSample struct {
	app     *App
	Dataset string
	Version int
	Split   Split
	// Total is how many inputs the split has; Inputs the sample shown.
	Total  int
	Inputs []Input
}

// SplitSample picks up to n inputs of one split of a dataset's latest version, n/classes per class so
// every class is visible.
func (a *App) SplitSample(dataset string, split Split, n int) (*SplitSample, error) {
	v, members, err := a.versionMembers(dataset)
	if err != nil {
		return nil, err
	}
	per := map[string][]int64{}
	var classes []string
	for _, m := range members {
		if m.Split != split {
			continue
		}
		if _, ok := per[m.Concept]; !ok {
			classes = append(classes, m.Concept)
		}
		per[m.Concept] = append(per[m.Concept], m.InputID)
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("mlkit: dataset %q v%d has no %q split (splits are train, validation, test)", dataset, v.Number, split)
	}
	sort.Strings(classes)
	each := max(1, n/len(classes))
	var ids []int64
	s := &SplitSample{app: a, Dataset: dataset, Version: v.Number, Split: split}
	for _, c := range classes {
		s.Total += len(per[c])
		ids = append(ids, per[c][:min(each, len(per[c]))]...)
	}
	if s.Inputs, err = a.st.Inputs(context.Background(), store.InputFilter{IDs: ids}); err != nil {
		return nil, fmt.Errorf("mlkit: sample of %s v%d %s: %w", dataset, v.Number, split, err)
	}
	return s, nil
}

// Show displays the sample as a gallery titled with the split's size.
func (s *SplitSample) Show() error {
	_, err := s.app.Gallery(s.Inputs, fmt.Sprintf("%s v%d — %s: %s (showing %d)", s.Dataset, s.Version, s.Split, view.Count(s.Total, "image"), len(s.Inputs))).Show()
	return err
}

package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/visionnb/visionnb/mlkit/store"
)

// SplitSpec says how to split labelled inputs into train, validation and test: by counts or by fractions
// (exactly one of them), stratified by label, with a seed.
type SplitSpec struct {
	// Counts are the sizes of train, validation and test; their sum may be less than the labelled inputs
	// (the rest stay out of the version) but not more.
	Counts []int `json:"counts,omitempty"`
	// Fractions are the shares of train, validation and test; they sum to at most 1.
	Fractions []float64 `json:"fractions,omitempty"`
	// Seed makes the assignment deterministic: the same inputs and seed give the same split, whatever the
	// order in which the inputs were added.
	Seed int64 `json:"seed"`
	// Together groups inputs that must land in one split (near duplicates: a copy in train and another in
	// test would leak): inputs with the same value are moved, after the stratified assignment, into the
	// first split (train, then validation, then test) any of them holds, an earlier version's member
	// deciding for its group. It is not part of the spec's identity (not stored), so a re-run with the same
	// seed and inputs reuses the version. App.Split fills it from the near-duplicate check.
	Together map[int64]int64 `json:"-"`
	// Fold, when set, makes the spec one fold of a stratified k-fold cross-validation instead of a
	// train/validation/test split: within each class the inputs, ranked by the seed, are cut into Fold.Of
	// equal chunks; chunk Fold.Index is the validation split, the others are train, and test is empty. The
	// Of specs with one seed and indices 0..Of-1 put every input in validation exactly once. Counts and
	// Fractions stay unset.
	Fold *Fold `json:"fold,omitempty"`
}

// Fold is one fold of a k-fold cross-validation: Index (0-based) of Of.
type Fold struct {
	// Of is the number of folds, at least 2.
	Of int `json:"of"`
	// Index is this fold, 0 to Of-1.
	Index int `json:"index"`
}

// KFold returns the spec of fold index (0-based) of a stratified k-fold cross-validation with k folds and
// seed 0: validation is that fold, train the other k-1, test empty.
func KFold(k, index int) SplitSpec { return SplitSpec{Fold: &Fold{Of: k, Index: index}} }

// ParseFold parses "I/K", fold I (1-based, as people count) of K, into KFold(K, I-1).
func ParseFold(s string) (SplitSpec, error) {
	i, k, ok := strings.Cut(s, "/")
	if !ok {
		return SplitSpec{}, fmt.Errorf("dataset: fold %q: want I/K, e.g. 1/5 for the first of 5 folds", s)
	}
	in, err1 := strconv.Atoi(strings.TrimSpace(i))
	kn, err2 := strconv.Atoi(strings.TrimSpace(k))
	if err1 != nil || err2 != nil {
		return SplitSpec{}, fmt.Errorf("dataset: fold %q: want two integers I/K, e.g. 1/5", s)
	}
	if kn < 2 || in < 1 || in > kn {
		return SplitSpec{}, fmt.Errorf("dataset: fold %q: want 1 <= I <= K and K >= 2", s)
	}
	spec := KFold(kn, in-1)
	return spec, spec.Validate()
}

// Counts returns a spec with these train, validation and test sizes and seed 0.
func Counts(train, validation, test int) SplitSpec {
	return SplitSpec{Counts: []int{train, validation, test}}
}

// Fractions returns a spec with these train, validation and test shares and seed 0.
func Fractions(train, validation, test float64) SplitSpec {
	return SplitSpec{Fractions: []float64{train, validation, test}}
}

// WithSeed returns the spec with another seed.
func (s SplitSpec) WithSeed(seed int64) SplitSpec { s.Seed = seed; return s }

// ParseCounts parses "500,100,100" (train, validation[, test]).
func ParseCounts(s string) (SplitSpec, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return SplitSpec{}, fmt.Errorf("dataset: counts %q: want train,validation[,test]", s)
	}
	spec := SplitSpec{Counts: make([]int, 3)}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return SplitSpec{}, fmt.Errorf("dataset: counts %q: element %d: %w", s, i+1, err)
		}
		spec.Counts[i] = n
	}
	return spec, spec.Validate()
}

// ParseFractions parses "0.7,0.15,0.15" (train, validation[, test]).
func ParseFractions(s string) (SplitSpec, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return SplitSpec{}, fmt.Errorf("dataset: fractions %q: want train,validation[,test]", s)
	}
	spec := SplitSpec{Fractions: make([]float64, 3)}
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return SplitSpec{}, fmt.Errorf("dataset: fractions %q: element %d: %w", s, i+1, err)
		}
		spec.Fractions[i] = f
	}
	return spec, spec.Validate()
}

// Validate checks that exactly one of Counts and Fractions is set, with three non-negative values and a
// positive sum (at most 1 for fractions).
func (s SplitSpec) Validate() error {
	switch {
	case s.Fold != nil:
		if s.Counts != nil || s.Fractions != nil {
			return fmt.Errorf("dataset: a k-fold split spec has no counts or fractions")
		}
		if s.Fold.Of < 2 || s.Fold.Index < 0 || s.Fold.Index >= s.Fold.Of {
			return fmt.Errorf("dataset: fold %d of %d: want at least 2 folds and an index from 0 to %d", s.Fold.Index, s.Fold.Of, max(s.Fold.Of, 2)-1)
		}
	case s.Counts != nil && s.Fractions != nil:
		return fmt.Errorf("dataset: split spec has both counts and fractions")
	case s.Counts != nil:
		if len(s.Counts) != 3 {
			return fmt.Errorf("dataset: split counts %v: want 3 values (train, validation, test)", s.Counts)
		}
		sum := 0
		for _, c := range s.Counts {
			if c < 0 {
				return fmt.Errorf("dataset: split counts %v: negative count", s.Counts)
			}
			sum += c
		}
		if sum == 0 {
			return fmt.Errorf("dataset: split counts %v: all zero", s.Counts)
		}
	case s.Fractions != nil:
		if len(s.Fractions) != 3 {
			return fmt.Errorf("dataset: split fractions %v: want 3 values (train, validation, test)", s.Fractions)
		}
		sum := 0.0
		for _, f := range s.Fractions {
			if f < 0 || math.IsNaN(f) {
				return fmt.Errorf("dataset: split fractions %v: negative or NaN", s.Fractions)
			}
			sum += f
		}
		if sum <= 0 || sum > 1+1e-9 {
			return fmt.Errorf("dataset: split fractions %v sum to %g, want more than 0 and at most 1", s.Fractions, sum)
		}
	default:
		return fmt.Errorf("dataset: split spec has neither counts nor fractions")
	}
	return nil
}

// String formats the spec, e.g. "counts 500/100/100 seed 1".
func (s SplitSpec) String() string {
	if s.Fold != nil {
		return fmt.Sprintf("fold %d/%d seed %d", s.Fold.Index+1, s.Fold.Of, s.Seed)
	}
	if s.Counts != nil {
		return fmt.Sprintf("counts %d/%d/%d seed %d", s.Counts[0], s.Counts[1], s.Counts[2], s.Seed)
	}
	if len(s.Fractions) == 3 {
		return fmt.Sprintf("fractions %g/%g/%g seed %d", s.Fractions[0], s.Fractions[1], s.Fractions[2], s.Seed)
	}
	return "invalid split spec"
}

// totals returns the number of inputs per split for n inputs, plus the number left out as a 4th element.
// For proportional use (later versions), counts act as proportions of their sum.
func (s SplitSpec) totals(n int, proportional bool) ([]int, error) {
	if s.Counts != nil && !proportional {
		sum := s.Counts[0] + s.Counts[1] + s.Counts[2]
		if sum > n {
			return nil, fmt.Errorf("dataset: split asks for %d inputs (%d/%d/%d) but only %d labelled inputs are available",
				sum, s.Counts[0], s.Counts[1], s.Counts[2], n)
		}
		return []int{s.Counts[0], s.Counts[1], s.Counts[2], n - sum}, nil
	}
	fr := s.Fractions
	if s.Counts != nil {
		sum := float64(s.Counts[0] + s.Counts[1] + s.Counts[2])
		fr = []float64{float64(s.Counts[0]) / sum, float64(s.Counts[1]) / sum, float64(s.Counts[2]) / sum}
	}
	sum := fr[0] + fr[1] + fr[2]
	total := n
	if sum < 1-1e-9 {
		total = int(math.Floor(sum*float64(n) + 1e-9))
	}
	t := largestRemainder([]float64{fr[0] * float64(n), fr[1] * float64(n), fr[2] * float64(n)}, total)
	return append(t, n-total), nil
}

// largestRemainder rounds ideal values to integers that sum to total (Hamilton's method).
func largestRemainder(ideal []float64, total int) []int {
	out := make([]int, len(ideal))
	type rem struct {
		i int
		f float64
	}
	rems := make([]rem, len(ideal))
	sum := 0
	for i, x := range ideal {
		out[i] = int(math.Floor(x + 1e-9))
		sum += out[i]
		rems[i] = rem{i, x - float64(out[i])}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].f > rems[b].f })
	for k := 0; sum < total; k = (k + 1) % len(rems) {
		out[rems[k].i]++
		sum++
	}
	for k := len(rems) - 1; sum > total; k = (k + len(rems) - 1) % len(rems) {
		if out[rems[k].i] > 0 {
			out[rems[k].i]--
			sum--
		}
	}
	return out
}

// stratify returns how many inputs of each class go to each split: a matrix with row sums classSizes and
// column sums splitTotals whose every entry is the floor or the ceiling of its proportional share
// splitTotal×classSize/N (a controlled rounding, found as a max flow over the fractional parts).
func stratify(classSizes, splitTotals []int) [][]int {
	n := 0
	for _, c := range classSizes {
		n += c
	}
	C, K := len(classSizes), len(splitTotals)
	out := make([][]int, C)
	need := make([]int, C)   // per class: entries to round up
	capS := make([]int, K)   // per split: entries to round up
	frac := make([][]int, C) // remainders (numerators over n) of the ideal shares
	for s := range K {
		capS[s] = splitTotals[s]
	}
	for c := range C {
		out[c] = make([]int, K)
		frac[c] = make([]int, K)
		need[c] = classSizes[c]
		for s := range K {
			if n > 0 {
				out[c][s] = splitTotals[s] * classSizes[c] / n
				frac[c][s] = splitTotals[s] * classSizes[c] % n
			}
			need[c] -= out[c][s]
			capS[s] -= out[c][s]
		}
	}
	// Bipartite flow: class c -> split s (capacity 1 where the share has a remainder).
	flow := make([][]bool, C)
	for c := range C {
		flow[c] = make([]bool, K)
	}
	owner := func(s int) []int { // classes currently sending flow into split s
		var cs []int
		for c := range C {
			if flow[c][s] {
				cs = append(cs, c)
			}
		}
		return cs
	}
	var augment func(c int, seen []bool) bool
	augment = func(c int, seen []bool) bool {
		order := make([]int, 0, K)
		for s := range K {
			if frac[c][s] > 0 && !flow[c][s] {
				order = append(order, s)
			}
		}
		sort.SliceStable(order, func(a, b int) bool { return frac[c][order[a]] > frac[c][order[b]] })
		for _, s := range order {
			if seen[s] {
				continue
			}
			seen[s] = true
			if capS[s] > 0 {
				flow[c][s] = true
				capS[s]--
				return true
			}
			for _, other := range owner(s) {
				// Move other's unit elsewhere, freeing this split for c.
				flow[other][s] = false
				if augment(other, seen) {
					flow[c][s] = true
					return true
				}
				flow[other][s] = true
			}
		}
		return false
	}
	for c := range C {
		for need[c] > 0 {
			if !augment(c, make([]bool, K)) {
				break // cannot happen when the inputs are consistent; the leftover goes to the last split
			}
			need[c]--
		}
	}
	// Tally the rounded-up entries; a class left short (impossible for consistent totals) fills the last split.
	for c := range C {
		sum := 0
		for s := range K {
			out[c][s] = splitTotals[s] * classSizes[c] / max(n, 1)
			if flow[c][s] {
				out[c][s]++
			}
			sum += out[c][s]
		}
		out[c][K-1] += classSizes[c] - sum
	}
	return out
}

// rankKey orders inputs within a class for a seed, independently of insertion order.
func rankKey(seed int64, sha string) string {
	h := sha256.Sum256([]byte(strconv.FormatInt(seed, 10) + ":" + sha))
	return hex.EncodeToString(h[:])
}

// Version is a dataset version with its per-split, per-class counts.
type Version struct {
	store.Version
	// Counts[split][concept] is the number of members.
	Counts map[store.Split]map[string]int `json:"counts"`
	// Kept is how many members came unchanged from the previous version, Added how many were newly
	// assigned, Dropped how many previous members are gone (input removed or no longer labelled).
	Kept, Added, Dropped int
	// Reused is true when CreateVersion froze nothing new: the latest version already had this spec and
	// exactly these members with these labels, and it is returned as is.
	Reused bool `json:"reused"`
	// Warning is set on a later version made with a spec other than its previous version's: the spec
	// only assigned the new inputs (every earlier member kept its split), which it says in words.
	Warning string `json:"warning,omitempty"`
	// Regrouped is how many new members SplitSpec.Together moved to another split, to join their near
	// duplicates.
	Regrouped int `json:"regrouped,omitempty"`
}

// Total returns the number of members in split.
func (v *Version) Total(split store.Split) int {
	t := 0
	for _, n := range v.Counts[split] {
		t += n
	}
	return t
}

// CreateVersion freezes a new version of the dataset called name (created when missing) over the labelled
// active inputs, split by spec and stratified by label.
//
// The first version splits all labelled inputs per spec. A later version keeps every member of the
// previous version in the same split (members whose input was removed or lost its label are dropped) and
// splits only the inputs new since then, by the spec's proportions (counts act as proportions). Within each
// class, inputs are ranked by SHA-256(seed, content hash), so the split depends only on the seed and the
// content, not on upload order. An input with several labels is stratified under the first by name.
//
// Calling it again is safe: when the latest version has the same spec and would get exactly the same
// members with the same labels, no version is made and that version is returned with Reused set. A
// changed spec cannot re-split earlier members, so on a later version it is handled explicitly:
//   - with new inputs to assign, the new version is made and its Warning says that the spec (counts as
//     proportions, the seed) only assigned the new inputs;
//   - with no new input, the spec would change nothing, and CreateVersion returns an error (split under a
//     new dataset name to split every input afresh).
func CreateVersion(ctx context.Context, st *store.Store, name string, spec SplitSpec) (*Version, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("dataset: encoding split spec: %w", err)
	}
	var result *Version
	err = st.Tx(ctx, func(tx *store.Tx) error {
		labels, err := tx.ActiveLabels(ctx)
		if err != nil {
			return err
		}
		primary := map[int64]store.Label{}
		for _, l := range labels {
			if _, ok := primary[l.InputID]; !ok { // first by concept name
				primary[l.InputID] = l
			}
		}
		var previous []store.Member
		var prev store.Version
		hasPrev := false
		if p, err := tx.Version(ctx, name, 0); err == nil {
			prev, hasPrev = p, true
			if previous, err = tx.Members(ctx, prev.ID); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		result = &Version{Counts: map[store.Split]map[string]int{}}
		var members []store.Member
		inPrev := map[int64]bool{}
		relabelled := 0
		for _, m := range previous {
			inPrev[m.InputID] = true
			l, ok := primary[m.InputID]
			if !ok {
				result.Dropped++
				continue
			}
			if l.ConceptID != m.ConceptID {
				relabelled++
			}
			members = append(members, store.Member{InputID: m.InputID, Split: m.Split, ConceptID: l.ConceptID, Concept: l.Concept})
			result.Kept++
		}
		byClass := map[string][]store.Label{}
		newInputs := 0
		for _, l := range primary {
			if !inPrev[l.InputID] {
				byClass[l.Concept] = append(byClass[l.Concept], l)
				newInputs++
			}
		}
		if hasPrev {
			sameSpec := sameSpecJSON(prev.Spec, spec)
			switch {
			case sameSpec && newInputs == 0 && result.Dropped == 0 && relabelled == 0:
				result.Version, result.Reused, result.Kept = prev, true, len(members)
				for _, m := range members {
					if result.Counts[m.Split] == nil {
						result.Counts[m.Split] = map[string]int{}
					}
					result.Counts[m.Split][m.Concept]++
				}
				return nil
			case !sameSpec && newInputs == 0:
				return fmt.Errorf("v%d was split by %s; a later version keeps every earlier member in its split and only assigns new inputs, and there are none, so %s cannot apply: split again with %s (it records removed or relabelled inputs), or under a new dataset name to split every input afresh",
					prev.Number, specOf(prev.Spec), spec, specOf(prev.Spec))
			case !sameSpec:
				result.Warning = fmt.Sprintf("dataset %s v%d was split by %s: its %d members keep their splits, and %s only assigned the %d new inputs (counts act as proportions)",
					name, prev.Number, specOf(prev.Spec), result.Kept, spec, newInputs)
			}
		}
		v, err := tx.CreateVersion(ctx, name, spec.Seed, string(specJSON))
		if err != nil {
			return err
		}
		result.Version = v
		classes := make([]string, 0, len(byClass))
		sizes := []int{}
		total := 0
		for c := range byClass {
			classes = append(classes, c)
		}
		sort.Strings(classes)
		for _, c := range classes {
			sizes = append(sizes, len(byClass[c]))
			total += len(byClass[c])
		}
		if !hasPrev && total == 0 {
			return fmt.Errorf("dataset: no labelled inputs to split into %q", name)
		}
		var alloc [][]int
		if spec.Fold == nil {
			splitTotals, err := spec.totals(total, hasPrev)
			if err != nil {
				return err
			}
			alloc = stratify(sizes, splitTotals)
		}
		for ci, c := range classes {
			items := byClass[c]
			sort.Slice(items, func(a, b int) bool { return rankKey(spec.Seed, items[a].SHA256) < rankKey(spec.Seed, items[b].SHA256) })
			if spec.Fold != nil {
				// Chunk j*K/m of m ranked inputs: K chunks whose sizes differ by at most one.
				for j, l := range items {
					split := store.Train
					if j*spec.Fold.Of/len(items) == spec.Fold.Index {
						split = store.Validation
					}
					members = append(members, store.Member{InputID: l.InputID, Split: split, ConceptID: l.ConceptID, Concept: l.Concept})
					result.Added++
				}
				continue
			}
			k := 0
			for si, split := range store.Splits {
				for range alloc[ci][si] {
					l := items[k]
					k++
					members = append(members, store.Member{InputID: l.InputID, Split: split, ConceptID: l.ConceptID, Concept: l.Concept})
					result.Added++
				}
			}
		}
		result.Regrouped = keepTogether(members, result.Kept, spec.Together)
		if err := tx.AddMembers(ctx, v.ID, members); err != nil {
			return err
		}
		for _, m := range members {
			if result.Counts[m.Split] == nil {
				result.Counts[m.Split] = map[string]int{}
			}
			result.Counts[m.Split][m.Concept]++
		}
		if err := tx.FreezeVersion(ctx, v.ID); err != nil {
			return err
		}
		result.Frozen = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: creating a version of %q (%s): %w", name, spec, err)
	}
	return result, nil
}

// keepTogether moves the new members (those from index kept on) of every group of together into one
// split: the first split an earlier member of the group holds, else the first split of any of its
// members (train before validation before test, so a test split never keeps half a group). It returns
// how many members it moved.
func keepTogether(members []store.Member, kept int, together map[int64]int64) int {
	if len(together) == 0 {
		return 0
	}
	order := map[store.Split]int{}
	for i, s := range store.Splits {
		order[s] = i
	}
	type target struct {
		split store.Split
		fixed bool // decided by an earlier version's member
	}
	targets := map[int64]target{}
	for i, m := range members {
		g, ok := together[m.InputID]
		if !ok {
			continue
		}
		t, seen := targets[g]
		old := i < kept
		switch {
		case !seen, old && !t.fixed, old == t.fixed && order[m.Split] < order[t.split]:
			targets[g] = target{split: m.Split, fixed: old}
		}
	}
	moved := 0
	for i := kept; i < len(members); i++ {
		g, ok := together[members[i].InputID]
		if !ok {
			continue
		}
		if t := targets[g]; members[i].Split != t.split {
			members[i].Split = t.split
			moved++
		}
	}
	return moved
}

// sameSpecJSON reports whether a stored spec (JSON) is spec.
func sameSpecJSON(stored string, spec SplitSpec) bool {
	var old SplitSpec
	if err := json.Unmarshal([]byte(stored), &old); err != nil {
		return false
	}
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(spec)
	return string(a) == string(b)
}

// specOf formats a stored spec (JSON) like SplitSpec.String.
func specOf(stored string) string {
	var old SplitSpec
	if err := json.Unmarshal([]byte(stored), &old); err != nil {
		return fmt.Sprintf("spec %s", stored)
	}
	return old.String()
}

// OpenVersion returns version number of dataset name (0: the latest) with its counts.
func OpenVersion(ctx context.Context, st *store.Store, name string, number int) (*Version, error) {
	v, err := st.Version(ctx, name, number)
	if err != nil {
		return nil, err
	}
	ms, err := st.Members(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	out := &Version{Version: v, Counts: map[store.Split]map[string]int{}}
	for _, m := range ms {
		if out.Counts[m.Split] == nil {
			out.Counts[m.Split] = map[string]int{}
		}
		out.Counts[m.Split][m.Concept]++
	}
	return out, nil
}

// Members returns the members of a version: input, split and the label it had when the version was made.
func Members(ctx context.Context, st *store.Store, v *Version) ([]store.Member, error) {
	return st.Members(ctx, v.ID)
}

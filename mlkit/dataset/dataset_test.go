package dataset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/store"
)

var ctx = context.Background()

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// addInputs inserts labelled rows (no images needed) in the given order: item k is "class:n".
func addInputs(t testing.TB, st *store.Store, items []string) map[string]int64 {
	t.Helper()
	ids := map[string]int64{}
	err := st.Tx(ctx, func(tx *store.Tx) error {
		for _, it := range items {
			var class string
			var n int
			if _, err := fmt.Sscanf(it, "%s %d", &class, &n); err != nil {
				return err
			}
			id, _, err := tx.InsertInput(ctx, store.Input{SHA256: store.SHA256([]byte(it)), FileName: it, Source: it, Width: 1, Height: 1, Format: "png", Bytes: 1})
			if err != nil {
				return err
			}
			c, _, err := tx.EnsureConcept(ctx, class)
			if err != nil {
				return err
			}
			if _, err := tx.AddAnnotation(ctx, id, c.ID, store.SourceFolder, class); err != nil {
				return err
			}
			ids[it] = id
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func population(sizes map[string]int) []string {
	var items []string
	for class, n := range sizes {
		for i := 0; i < n; i++ {
			items = append(items, fmt.Sprintf("%s %d", class, i))
		}
	}
	return items
}

// assignment maps item name ("class n") to split.
func assignment(t testing.TB, st *store.Store, v *Version) map[string]store.Split {
	t.Helper()
	ms, err := Members(ctx, st, v)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := st.Inputs(ctx, store.InputFilter{IncludeRemoved: true})
	if err != nil {
		t.Fatal(err)
	}
	name := map[int64]string{}
	for _, in := range ins {
		name[in.ID] = in.FileName
	}
	out := map[string]store.Split{}
	for _, m := range ms {
		out[name[m.InputID]] = m.Split
	}
	return out
}

func TestSplitIsDeterministicAndIndependentOfInsertionOrder(t *testing.T) {
	items := population(map[string]int{"horse": 81, "dog": 100, "sheep": 91})
	r := rand.New(rand.NewSource(1))
	shuffled := append([]string{}, items...)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	st1, st2 := openStore(t), openStore(t)
	addInputs(t, st1, items)
	addInputs(t, st2, shuffled)
	v1, err := CreateVersion(ctx, st1, "animals", Fractions(0.7, 0.15, 0.15).WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := CreateVersion(ctx, st2, "animals", Fractions(0.7, 0.15, 0.15).WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	a1, a2 := assignment(t, st1, v1), assignment(t, st2, v2)
	if len(a1) != len(items) {
		t.Fatalf("version has %d members, want %d", len(a1), len(items))
	}
	for k, s := range a1 {
		if a2[k] != s {
			t.Fatalf("%s: %s in one store, %s in the other; the split must not depend on insertion order", k, s, a2[k])
		}
	}
}

func openStoreWith(t *testing.T, items []string) *store.Store {
	st := openStore(t)
	addInputs(t, st, items)
	return st
}

func TestSeedChangesSplit(t *testing.T) {
	items := population(map[string]int{"a": 50, "b": 50})
	st := openStoreWith(t, items)
	v1, err := CreateVersion(ctx, st, "s7", Counts(60, 20, 20).WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := CreateVersion(ctx, st, "s8", Counts(60, 20, 20).WithSeed(8))
	if err != nil {
		t.Fatal(err)
	}
	a1, a2 := assignment(t, st, v1), assignment(t, st, v2)
	diff := 0
	for k := range a1 {
		if a1[k] != a2[k] {
			diff++
		}
	}
	if diff == 0 {
		t.Errorf("seeds 7 and 8 gave identical splits")
	}
}

func checkStratified(t *testing.T, v *Version, sizes map[string]int, splitTotals []int) {
	t.Helper()
	n := 0
	for _, s := range sizes {
		n += s
	}
	for si, split := range store.Splits {
		if got := v.Total(split); got != splitTotals[si] {
			t.Errorf("%s has %d members, want %d", split, got, splitTotals[si])
		}
		for class, size := range sizes {
			ideal := float64(splitTotals[si]) * float64(size) / float64(n)
			got := v.Counts[split][class]
			if math.Abs(float64(got)-ideal) >= 1 {
				t.Errorf("%s/%s: %d, ideal %.2f: off by 1 or more", split, class, got, ideal)
			}
		}
	}
}

func TestSplitCountsStratified(t *testing.T) {
	sizes := map[string]int{"butterfly": 100, "dog": 100, "elephant": 100, "horse": 81, "sheep": 91, "rare": 3}
	st := openStoreWith(t, population(sizes))
	v, err := CreateVersion(ctx, st, "animals", Counts(300, 90, 85).WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	checkStratified(t, v, sizes, []int{300, 90, 85})
	if !v.Frozen || v.Number != 1 || v.Added != 475 {
		t.Errorf("version %+v", v.Version)
	}
	// Counts below the population leave the rest out, still stratified.
	v2, err := CreateVersion(ctx, st, "small", Counts(100, 30, 30).WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	checkStratified(t, v2, sizes, []int{100, 30, 30})
	if _, err := CreateVersion(ctx, st, "too-many", Counts(400, 50, 50)); err == nil {
		t.Errorf("counts above the population were accepted")
	}
}

func TestStratifyRoundsEveryEntryToFloorOrCeil(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for trial := 0; trial < 300; trial++ {
		C := 1 + r.Intn(8)
		sizes := make([]int, C)
		n := 0
		for c := range sizes {
			sizes[c] = r.Intn(40)
			n += sizes[c]
		}
		if n == 0 {
			continue
		}
		f := []float64{r.Float64(), r.Float64(), r.Float64()}
		sum := f[0] + f[1] + f[2] + r.Float64()*0.5
		spec := Fractions(f[0]/sum, f[1]/sum, f[2]/sum)
		totals, err := spec.totals(n, false)
		if err != nil {
			t.Fatal(err)
		}
		m := stratify(sizes, totals)
		for s := range totals {
			col := 0
			for c := range sizes {
				col += m[c][s]
				ideal := totals[s] * sizes[c]
				if m[c][s]*n < ideal-n+1 && ideal%n != 0 || m[c][s]*n > ideal+n-1 {
					t.Fatalf("trial %d: entry [%d][%d] = %d, ideal %d/%d", trial, c, s, m[c][s], ideal, n)
				}
				if ideal%n == 0 && m[c][s]*n != ideal {
					t.Fatalf("trial %d: entry [%d][%d] = %d, exact ideal %d", trial, c, s, m[c][s], ideal/n)
				}
			}
			if col != totals[s] {
				t.Fatalf("trial %d: split %d sums to %d, want %d", trial, s, col, totals[s])
			}
		}
		for c := range sizes {
			row := 0
			for s := range totals {
				row += m[c][s]
			}
			if row != sizes[c] {
				t.Fatalf("trial %d: class %d sums to %d, want %d", trial, c, row, sizes[c])
			}
		}
	}
}

func TestNewVersionKeepsOldMembersInTheirSplit(t *testing.T) {
	sizes := map[string]int{"a": 60, "b": 40}
	st := openStoreWith(t, population(sizes))
	v1, err := CreateVersion(ctx, st, "ds", Fractions(0.6, 0.2, 0.2).WithSeed(5))
	if err != nil {
		t.Fatal(err)
	}
	before := assignment(t, st, v1)
	// New inputs, one removed input and one relabelled input.
	more := []string{}
	for i := 60; i < 90; i++ {
		more = append(more, fmt.Sprintf("a %d", i))
	}
	for i := 40; i < 60; i++ {
		more = append(more, fmt.Sprintf("b %d", i))
	}
	addInputs(t, st, more)
	all, _ := st.Inputs(ctx, store.InputFilter{})
	if _, err := RemoveInputs(ctx, st, []int64{all[0].ID}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := Relabel(ctx, st, "b", []int64{all[1].ID}, Manual()); err != nil {
		t.Fatal(err)
	}
	v2, err := CreateVersion(ctx, st, "ds", Fractions(0.6, 0.2, 0.2).WithSeed(99))
	if err != nil {
		t.Fatal(err)
	}
	after := assignment(t, st, v2)
	if v2.Number != 2 || v2.Kept != 99 || v2.Dropped != 1 || v2.Added != 50 {
		t.Errorf("v2 number %d kept %d dropped %d added %d; want 2, 99, 1, 50", v2.Number, v2.Kept, v2.Dropped, v2.Added)
	}
	for k, s := range before {
		if k == all[0].FileName {
			if _, ok := after[k]; ok {
				t.Errorf("removed input %s is still a member", k)
			}
			continue
		}
		if after[k] != s {
			t.Errorf("%s moved from %s to %s", k, s, after[k])
		}
	}
	newTotals := map[store.Split]int{}
	for _, k := range more {
		newTotals[after[k]]++
	}
	if newTotals[store.Train] != 30 || newTotals[store.Validation] != 10 || newTotals[store.Test] != 10 {
		t.Errorf("new inputs split %v, want 30/10/10", newTotals)
	}
	// The relabelled member carries its new label in v2, its old one in v1.
	old, _ := OpenVersion(ctx, st, "ds", 1)
	if old.Total(store.Train)+old.Total(store.Validation)+old.Total(store.Test) != 100 {
		t.Errorf("version 1 changed: %v", old.Counts)
	}
	latest, err := OpenVersion(ctx, st, "ds", 0)
	if err != nil || latest.Number != 2 {
		t.Fatalf("latest version: %v %v", latest, err)
	}
}

func TestLabelRelabelUnlabelHistory(t *testing.T) {
	st := openStore(t)
	ids := addInputs(t, st, []string{"cat 1", "cat 2", "dog 3"})
	cat1, dog3 := ids["cat 1"], ids["dog 3"]
	if n, err := Label(ctx, st, "cat", []int64{cat1, dog3}, FromSearch("whiskers")); err != nil || n != 1 {
		t.Fatalf("Label: %d %v, want 1 new label (cat 1 had it)", n, err)
	}
	if in, _ := st.Input(ctx, dog3); len(in.Labels) != 2 {
		t.Fatalf("dog 3 labels %v, want cat and dog", in.Labels)
	}
	if n, err := Relabel(ctx, st, "dog", []int64{dog3}, Manual()); err != nil || n != 1 {
		t.Fatalf("Relabel: %d %v", n, err)
	}
	if in, _ := st.Input(ctx, dog3); len(in.Labels) != 1 || in.Labels[0] != "dog" {
		t.Fatalf("after relabel: %v, want [dog]", in.Labels)
	}
	hist, err := History(ctx, st, dog3)
	if err != nil {
		t.Fatal(err)
	}
	var removed *store.Annotation
	for i := range hist {
		if !hist[i].Active() {
			removed = &hist[i]
		}
	}
	if len(hist) != 2 || removed == nil || removed.Concept != "cat" || removed.RemovedBy != "relabel to dog" ||
		removed.Source != store.SourceSearch || removed.Detail != "whiskers" {
		t.Fatalf("history %+v", hist)
	}
	if ok, err := Restore(ctx, st, removed.ID); err != nil || !ok {
		t.Fatalf("Restore: %v %v", ok, err)
	}
	if in, _ := st.Input(ctx, dog3); len(in.Labels) != 2 {
		t.Fatalf("after restore: %v", in.Labels)
	}
	if n, err := Unlabel(ctx, st, "", []int64{dog3}); err != nil || n != 2 {
		t.Fatalf("Unlabel all: %d %v", n, err)
	}
	unl, _ := st.Inputs(ctx, store.InputFilter{Unlabelled: true})
	if len(unl) != 1 || unl[0].ID != dog3 {
		t.Fatalf("unlabelled %v", unl)
	}
	if _, err := Label(ctx, st, "cat", []int64{cat1, 12345}, Manual()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("labelling a missing input: %v, want ErrNotFound", err)
	}
	if _, err := Unlabel(ctx, st, "nope", []int64{cat1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unlabel with an unknown concept: %v", err)
	}
	if err := RenameConcept(ctx, st, "cat", "kitten"); err != nil {
		t.Fatal(err)
	}
	cats, _ := st.Inputs(ctx, store.InputFilter{Concept: "kitten"})
	if len(cats) != 2 {
		t.Fatalf("after rename: %d kittens, want 2", len(cats))
	}
	if err := DeleteConcept(ctx, st, "kitten"); err != nil {
		t.Fatal(err)
	}
	cs, _ := Concepts(ctx, st)
	if len(cs) != 1 || cs[0].Name != "dog" {
		t.Fatalf("concepts after delete: %+v", cs)
	}
}

func TestSpecParsingAndValidation(t *testing.T) {
	if s, err := ParseCounts("500,100,100"); err != nil || s.Counts[0] != 500 || s.Counts[2] != 100 {
		t.Errorf("ParseCounts: %+v %v", s, err)
	}
	if s, err := ParseFractions("0.8,0.2"); err != nil || s.Fractions[1] != 0.2 || s.Fractions[2] != 0 {
		t.Errorf("ParseFractions two values: %+v %v", s, err)
	}
	for _, bad := range []string{"", "1", "a,b", "1,2,3,4", "-1,2,3"} {
		if _, err := ParseCounts(bad); err == nil {
			t.Errorf("ParseCounts(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"0.9,0.2,0.1", "0,0,0", "x,0.1"} {
		if _, err := ParseFractions(bad); err == nil {
			t.Errorf("ParseFractions(%q) accepted", bad)
		}
	}
	if _, err := CreateVersion(ctx, openStore(t), "empty", Counts(1, 0, 0)); err == nil {
		t.Errorf("splitting an app without labels succeeded")
	}
}

func TestConcurrentLabelling(t *testing.T) {
	st := openStore(t)
	var items []string
	for i := 0; i < 40; i++ {
		items = append(items, fmt.Sprintf("x %d", i))
	}
	ids := addInputs(t, st, items)
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			var mine []int64
			for i := g; i < 40; i += 8 {
				mine = append(mine, ids[fmt.Sprintf("x %d", i)])
			}
			_, err := Relabel(ctx, st, fmt.Sprintf("c%d", g%3), mine, Manual())
			errs <- err
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent relabel: %v", err)
		}
	}
	labels, err := st.ActiveLabels(ctx)
	if err != nil || len(labels) != 40 {
		t.Fatalf("%d active labels, want 40 (one per input): %v", len(labels), err)
	}
}

func TestSplitAgainReusesAnUnchangedVersion(t *testing.T) {
	st := openStoreWith(t, population(map[string]int{"a": 30, "b": 20}))
	spec := Counts(30, 10, 10).WithSeed(3)
	v1, err := CreateVersion(ctx, st, "ds", spec)
	if err != nil || v1.Reused {
		t.Fatalf("first split: %+v %v", v1, err)
	}
	// The same spec on the same labelled members: v1 again, no new version.
	again, err := CreateVersion(ctx, st, "ds", spec)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.Number != 1 || again.ID != v1.ID || again.Total(store.Train) != 30 || again.Kept != 50 || again.Added != 0 {
		t.Fatalf("same spec, same members: %+v, want v1 reused with its counts", again)
	}
	if vs, _ := st.Versions(ctx); len(vs) != 1 {
		t.Fatalf("%d versions after an unchanged split, want 1", len(vs))
	}
	// A changed spec with nothing new to assign cannot apply: an error that says so, no version.
	if _, err := CreateVersion(ctx, st, "ds", Counts(40, 5, 5).WithSeed(3)); err == nil || !strings.Contains(err.Error(), "only assigns new inputs") {
		t.Fatalf("changed counts, no new inputs: err = %v", err)
	}
	if _, err := CreateVersion(ctx, st, "ds", spec.WithSeed(4)); err == nil || !strings.Contains(err.Error(), "cannot apply") {
		t.Fatalf("changed seed, no new inputs: err = %v", err)
	}
	// A relabelled member changes the members: a new version.
	as, _ := st.Inputs(ctx, store.InputFilter{Concept: "a"})
	if _, err := Relabel(ctx, st, "b", []int64{as[0].ID}, Manual()); err != nil {
		t.Fatal(err)
	}
	v2, err := CreateVersion(ctx, st, "ds", spec)
	if err != nil || v2.Reused || v2.Number != 2 || v2.Warning != "" {
		t.Fatalf("relabelled member: %+v %v, want a new v2", v2, err)
	}
	// New inputs: a new version; the same spec again afterwards reuses it.
	addInputs(t, st, []string{"a 100", "a 101", "b 100", "b 101", "b 102"})
	v3, err := CreateVersion(ctx, st, "ds", spec)
	if err != nil || v3.Reused || v3.Number != 3 || v3.Added != 5 {
		t.Fatalf("new inputs: %+v %v, want v3 with 5 added", v3, err)
	}
	if v, err := CreateVersion(ctx, st, "ds", spec); err != nil || !v.Reused || v.Number != 3 {
		t.Fatalf("split again after v3: %+v %v", v, err)
	}
	// A changed spec with new inputs makes a version that warns what the spec did and did not do.
	addInputs(t, st, []string{"a 200", "b 200"})
	v4, err := CreateVersion(ctx, st, "ds", Fractions(0.5, 0.5, 0).WithSeed(9))
	if err != nil || v4.Reused || v4.Number != 4 || !strings.Contains(v4.Warning, "only assigned the 2 new inputs") {
		t.Fatalf("changed spec with new inputs: %+v %v", v4, err)
	}
}

// TestSplitKeepsGroupsTogether: members of one SplitSpec.Together group end in one split, the earliest
// any of them was assigned; in a later version an earlier member decides where its new near duplicates
// go; Together is not part of the spec, so the same spec and inputs reuse the version.
func TestSplitKeepsGroupsTogether(t *testing.T) {
	sizes := map[string]int{"a": 40, "b": 40}
	st := openStoreWith(t, population(sizes))
	all, err := st.Inputs(ctx, store.InputFilter{})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := CreateVersion(ctx, st, "plain", Fractions(0.5, 0.25, 0.25).WithSeed(3))
	if err != nil {
		t.Fatal(err)
	}
	where := assignment(t, st, plain)
	// Groups of a test, a validation and a train input each (across classes too), and two test inputs.
	var byS = map[store.Split][]store.Input{}
	for _, in := range all {
		byS[where[in.FileName]] = append(byS[where[in.FileName]], in)
	}
	together := map[int64]int64{}
	for g := range 3 {
		for _, in := range []store.Input{byS[store.Test][g], byS[store.Validation][g], byS[store.Train][g]} {
			together[in.ID] = int64(g)
		}
	}
	together[byS[store.Test][5].ID], together[byS[store.Test][6].ID] = 9, 9
	spec := Fractions(0.5, 0.25, 0.25).WithSeed(3)
	spec.Together = together
	v, err := CreateVersion(ctx, st, "grouped", spec)
	if err != nil {
		t.Fatal(err)
	}
	got := assignment(t, st, v)
	for g := range 3 {
		for _, in := range []store.Input{byS[store.Test][g], byS[store.Validation][g]} {
			if got[in.FileName] != store.Train {
				t.Errorf("group %d: %s in %s, want train with its near duplicate", g, in.FileName, got[in.FileName])
			}
		}
	}
	if got[byS[store.Test][5].FileName] != store.Test || got[byS[store.Test][6].FileName] != store.Test || v.Regrouped != 6 {
		t.Errorf("a group within test left test, or %d moved (want 6)", v.Regrouped)
	}
	again, err := CreateVersion(ctx, st, "grouped", spec)
	if err != nil || !again.Reused {
		t.Fatalf("same spec and inputs: reused %v, %v", again != nil && again.Reused, err)
	}
	// A new input joining a test member's group goes to test, whatever its rank says.
	ids := addInputs(t, st, []string{"a 900", "a 901", "a 902", "a 903"})
	for _, k := range []string{"a 900", "a 901", "a 902", "a 903"} {
		together[ids[k]] = 9
	}
	spec.Together = together
	v2, err := CreateVersion(ctx, st, "grouped", spec)
	if err != nil {
		t.Fatal(err)
	}
	got = assignment(t, st, v2)
	for _, k := range []string{"a 900", "a 901", "a 902", "a 903"} {
		if got[k] != store.Test {
			t.Errorf("new input %s joined a test group but went to %s", k, got[k])
		}
	}
}

func TestKFoldPutsEveryInputInValidationOnce(t *testing.T) {
	sizes := map[string]int{"horse": 81, "dog": 100, "sheep": 7}
	items := population(sizes)
	st := openStoreWith(t, items)
	const k = 5
	inValidation := map[string]int{}
	for i := range k {
		v, err := CreateVersion(ctx, st, fmt.Sprintf("cv%d", i), KFold(k, i).WithSeed(3))
		if err != nil {
			t.Fatal(err)
		}
		if v.Total(store.Test) != 0 {
			t.Errorf("fold %d: test has %d members, want none", i, v.Total(store.Test))
		}
		for class, n := range sizes {
			// Stratified: each class's validation share is floor or ceil of n/k.
			if got := v.Counts[store.Validation][class]; got != n/k && got != (n+k-1)/k {
				t.Errorf("fold %d: %d of %d %s in validation, want %d or %d", i, got, n, class, n/k, (n+k-1)/k)
			}
			if got := v.Counts[store.Validation][class] + v.Counts[store.Train][class]; got != n {
				t.Errorf("fold %d: %d %s in the version, want all %d", i, got, class, n)
			}
		}
		for name, split := range assignment(t, st, v) {
			if split == store.Validation {
				inValidation[name]++
			}
		}
	}
	for _, it := range items {
		if inValidation[it] != 1 {
			t.Errorf("%s is in validation in %d of the %d folds, want exactly 1", it, inValidation[it], k)
		}
	}
	// The same fold again is the same version, reused.
	v, err := CreateVersion(ctx, st, "cv2", KFold(k, 2).WithSeed(3))
	if err != nil || !v.Reused {
		t.Errorf("the same fold again: reused %v, err %v", v != nil && v.Reused, err)
	}
}

func TestKFoldSpecParsing(t *testing.T) {
	s, err := ParseFold("2/5")
	if err != nil || s.Fold == nil || s.Fold.Index != 1 || s.Fold.Of != 5 {
		t.Fatalf("ParseFold(2/5) = %+v, %v; want index 1 of 5", s, err)
	}
	if got := s.WithSeed(4).String(); got != "fold 2/5 seed 4" {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []string{"", "5", "0/5", "6/5", "1/1", "a/5", "1/b", "-1/3"} {
		if _, err := ParseFold(bad); err == nil {
			t.Errorf("ParseFold(%q) accepted", bad)
		}
	}
	for _, bad := range []SplitSpec{KFold(1, 0), KFold(5, 5), KFold(5, -1), {Fold: &Fold{Of: 3}, Counts: []int{1, 1, 1}}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%s) accepted", bad)
		}
	}
}

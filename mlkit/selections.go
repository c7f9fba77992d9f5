package mlkit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/visionnb/visionnb/mlkit/names"
	"github.com/visionnb/visionnb/mlkit/search"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// ErrNoSavedSelection is returned (wrapped) by App.Selection and App.DeleteSelection for a name under
// which no selection is saved.
var ErrNoSavedSelection = errors.New("no selection saved under that name")

// Save keeps the selection in the app under name, replacing what was saved under it (re-running the cell
// saves it again): the query, the embedder, the selected inputs in their order and the ones unselected
// from it. A later cell (GoNB runs every cell as a new program) reopens it with App.Selection, looks at
// it, unselects more and labels it.
func (s *Selection) Save(name string) error {
	if err := names.Check(names.KindSelection, name); err != nil {
		return fmt.Errorf("mlkit: saving a selection: %w", err)
	}
	rec := store.SearchSelection{Name: name, Query: s.Query, Model: s.results.Model,
		Hits: rankedInputs(s.Hits()), Unselected: rankedInputs(s.Unselected())}
	ctx := context.Background()
	if err := s.results.app.st.Tx(ctx, func(tx *store.Tx) error { return tx.PutSearchSelection(ctx, rec) }); err != nil {
		return fmt.Errorf("mlkit: %w", err)
	}
	return nil
}

// Results is the ranking the selection was made from (for a reopened selection: its saved inputs), for
// file names and current labels.
func (s *Selection) Results() *Results { return s.results }

func rankedInputs(hits []search.Hit) []store.RankedInput {
	out := make([]store.RankedInput, len(hits))
	for i, h := range hits {
		out[i] = store.RankedInput{ID: h.ID, Rank: h.Rank, Score: h.Score}
	}
	return out
}

func searchHits(xs []store.RankedInput, keep func(int64) bool) (hits []search.Hit, dropped []int64) {
	for _, x := range xs {
		if keep(x.ID) {
			hits = append(hits, search.Hit{ID: x.ID, Rank: x.Rank, Score: x.Score})
		} else {
			dropped = append(dropped, x.ID)
		}
	}
	return hits, dropped
}

// Selection reopens the selection saved under name (Selection.Save): the same inputs in the same order,
// so positions mean what they meant when it was shown, and Show, ShowBottom, Unselect and LabelAs carry on
// where the earlier cell stopped. Inputs removed from the app since it was saved are left out, which it
// says on Messages. An unknown name is an error that lists the saved ones (errors.Is ErrNoSavedSelection).
func (a *App) Selection(name string) (*Selection, error) {
	ctx := context.Background()
	rec, err := a.st.SearchSelection(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		saved, lerr := a.SavedSelections()
		if lerr != nil {
			return nil, lerr
		}
		var have []string
		for _, s := range saved {
			have = append(have, fmt.Sprintf("%q", s.Name))
		}
		list := "none is saved yet: sel.Save(name) keeps one"
		if len(have) > 0 {
			list = "saved: " + strings.Join(have, ", ")
		}
		return nil, fmt.Errorf("mlkit: selection %q: %w (%s)", name, ErrNoSavedSelection, list)
	}
	if err != nil {
		return nil, fmt.Errorf("mlkit: %w", err)
	}
	res := &Results{app: a, Query: rec.Query, Model: rec.Model}
	if err := res.loadContext(); err != nil {
		return nil, err
	}
	present := func(id int64) bool { _, ok := res.inputs[id]; return ok }
	hits, dropped := searchHits(rec.Hits, present)
	unselected, _ := searchHits(rec.Unselected, present)
	if len(dropped) > 0 {
		fmt.Fprintf(Messages, "selection %q: %s removed from the app since it was saved (input %d first) left out\n", name, view.Count(len(dropped), "input"), dropped[0])
	}
	res.Hits = hits
	return &Selection{Selection: search.Restore(rec.Query, hits, unselected), results: res}, nil
}

// SavedSelections lists the selections saved in the app, by name.
func (a *App) SavedSelections() ([]store.SearchSelection, error) {
	out, err := a.st.SearchSelections(context.Background())
	if err != nil {
		return nil, fmt.Errorf("mlkit: %w", err)
	}
	return out, nil
}

// DeleteSelection deletes the selection saved under name; deleting one that is not there is an error
// (errors.Is ErrNoSavedSelection). Labels made from it stay.
func (a *App) DeleteSelection(name string) error {
	ctx := context.Background()
	var found bool
	err := a.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		found, err = tx.DeleteSearchSelection(ctx, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("mlkit: %w", err)
	}
	if !found {
		return fmt.Errorf("mlkit: deleting selection %q: %w", name, ErrNoSavedSelection)
	}
	return nil
}

package mlkit

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/names"
	"github.com/visionnb/visionnb/mlkit/search"
	"github.com/visionnb/visionnb/mlkit/view"
)

func hitIDs(hits []search.Hit) []int64 {
	out := make([]int64, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// TestSavedSelectionReopensInTheNextCell: a selection saved in one program (a notebook cell) reopens in
// the next with its inputs in order, its positions and what was unselected; edits saved again replace it;
// labelling the reopened selection records the query; removed inputs drop out; bad names and unknown
// selections are errors that say what is saved.
func TestSavedSelectionReopensInTheNextCell(t *testing.T) {
	view.SetOutputDir(t.TempDir())
	app, cleanup := exampleApp(true)
	defer cleanup()
	dir := app.Dir()
	cats := Must(app.InputsLabelled("cat"))
	Must(app.Unlabel("", cats[3].ID, cats[4].ID, cats[5].ID))
	res := Must(app.Search(DefaultEmbedder).Like(cats[0].ID, cats[1].ID, cats[2].ID).Unlabelled().Run())
	sel := res.Select().Top(3)
	dropped := sel.Hits()[1]
	Check(sel.Unselect(1))
	Check(sel.Save("cats to check"))
	if err := sel.Save("bad\nname"); !errors.Is(err, names.ErrInvalid) || !strings.Contains(err.Error(), "selection name") {
		t.Errorf("a name with a newline: %v", err)
	}
	want := sel.IDs()
	app.Close()

	// The next cell: a new program opens the app and the selection.
	app2 := Must(Open(dir))
	defer app2.Close()
	got := Must(app2.Selection("cats to check"))
	if !slices.Equal(got.IDs(), want) || got.Query != res.Query || len(got.Unselected()) != 1 || got.Unselected()[0].ID != dropped.ID {
		t.Fatalf("reopened: ids %v query %q unselected %v; want %v, %q, [%d]", got.IDs(), got.Query, hitIDs(got.Unselected()), want, res.Query, dropped.ID)
	}
	if got.Hits()[0].Score != sel.Hits()[0].Score || got.Hits()[1].Rank != sel.Hits()[1].Rank {
		t.Errorf("reopened hits %+v, saved %+v", got.Hits(), sel.Hits())
	}
	Check(got.Show())
	Check(got.Unselect(0))
	Check(got.Save("cats to check"))
	again := Must(app2.Selection("cats to check"))
	if !slices.Equal(again.IDs(), want[1:]) || len(again.Unselected()) != 2 {
		t.Fatalf("after a second unselect: %v, unselected %v", again.IDs(), hitIDs(again.Unselected()))
	}
	if n := Must(again.LabelAs("cat")); n != 1 {
		t.Errorf("labelled %d, want 1", n)
	}
	if h := Must(app2.History(want[1])); len(h) == 0 || !strings.Contains(h[len(h)-1].Detail, "like:") {
		t.Errorf("the label's history does not record the query: %+v", h)
	}

	// An input removed since drops out, and says so.
	msgs := quietMessages(t)
	Must(app2.Remove(want[1]))
	if s := Must(app2.Selection("cats to check")); s.Len() != 0 || !strings.Contains(msgs.String(), "removed from the app since it was saved") {
		t.Errorf("after removing its input: %d selected; messages %q", s.Len(), msgs.String())
	}
	if _, err := app2.Selection("dogs"); !errors.Is(err, ErrNoSavedSelection) || !strings.Contains(err.Error(), `saved: "cats to check"`) {
		t.Errorf("unknown selection: %v", err)
	}
	if saved := Must(app2.SavedSelections()); len(saved) != 1 || saved[0].Name != "cats to check" || saved[0].Model != DefaultEmbedder {
		t.Errorf("saved selections: %+v", saved)
	}
	Check(app2.DeleteSelection("cats to check"))
	if err := app2.DeleteSelection("cats to check"); !errors.Is(err, ErrNoSavedSelection) {
		t.Errorf("deleting twice: %v", err)
	}
}

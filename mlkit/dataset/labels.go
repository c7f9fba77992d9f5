// Package dataset manages what the tutorial trains on: concepts (class names), labels on inputs (with
// their provenance and an undoable history), and frozen, stratified, seed-deterministic dataset versions
// split into train, validation and test.
package dataset

import (
	"context"
	"fmt"
	"strings"

	"github.com/visionnb/visionnb/mlkit/store"
)

// By says who applied a label: its source (manual, search, model, folder) and a detail such as the search
// query or the model name.
type By struct {
	Source store.AnnotationSource
	Detail string
}

// Manual is the provenance of labels a person applies by hand.
func Manual() By { return By{Source: store.SourceManual} }

// FromSearch is the provenance of labels accepted from a text or visual search for query.
func FromSearch(query string) By { return By{Source: store.SourceSearch, Detail: query} }

// FromModel is the provenance of labels predicted by the named model.
func FromModel(model string) By { return By{Source: store.SourceModel, Detail: model} }

func (b By) orManual() By {
	if b.Source == "" {
		b.Source = store.SourceManual
	}
	return b
}

// CreateConcepts creates the named concepts; existing ones are left as they are.
func CreateConcepts(ctx context.Context, st *store.Store, names ...string) error {
	return st.Tx(ctx, func(tx *store.Tx) error {
		for _, n := range names {
			if _, _, err := tx.EnsureConcept(ctx, n); err != nil {
				return fmt.Errorf("dataset: %w", err)
			}
		}
		return nil
	})
}

// Concepts lists the concepts by name, with how many active inputs carry each.
func Concepts(ctx context.Context, st *store.Store) ([]store.Concept, error) {
	return st.Concepts(ctx)
}

// RenameConcept renames a concept; its labels follow.
func RenameConcept(ctx context.Context, st *store.Store, from, to string) error {
	return st.Tx(ctx, func(tx *store.Tx) error { return tx.RenameConcept(ctx, from, to) })
}

// DeleteConcept deletes a concept and every label (and label history) with it.
func DeleteConcept(ctx context.Context, st *store.Store, name string) error {
	return st.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteConcept(ctx, name) })
}

// Label adds the label concept (created when missing) to every input in ids, keeping other labels; labels
// already present are left alone. It returns how many labels were added. All or nothing: an unknown input
// id fails the whole call.
func Label(ctx context.Context, st *store.Store, concept string, ids []int64, by By) (int, error) {
	return labelInputs(ctx, st, concept, ids, by, false)
}

// Relabel makes concept the only label of every input in ids (the fix for a mislabel). Replaced labels stay
// in the history, marked "relabel to <concept>". It returns how many inputs changed.
func Relabel(ctx context.Context, st *store.Store, concept string, ids []int64, by By) (int, error) {
	return labelInputs(ctx, st, concept, ids, by, true)
}

func labelInputs(ctx context.Context, st *store.Store, concept string, ids []int64, by By, replace bool) (int, error) {
	by = by.orManual()
	n := 0
	err := st.Tx(ctx, func(tx *store.Tx) error {
		n = 0
		c, _, err := tx.EnsureConcept(ctx, concept)
		if err != nil {
			return err // wrapped once below
		}
		if err := checkInputs(ctx, tx, ids); err != nil {
			return err
		}
		for _, id := range ids {
			changed := false
			if replace {
				anns, err := tx.Annotations(ctx, id, false)
				if err != nil {
					return err
				}
				for _, a := range anns {
					if a.ConceptID != c.ID {
						if _, err := tx.RemoveAnnotations(ctx, id, a.ConceptID, "relabel to "+c.Name); err != nil {
							return err
						}
						changed = true
					}
				}
			}
			added, err := tx.AddAnnotation(ctx, id, c.ID, by.Source, by.Detail)
			if err != nil {
				return err
			}
			if added || changed {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dataset: labelling %d inputs as %q: %w", len(ids), concept, err)
	}
	return n, nil
}

func checkInputs(ctx context.Context, tx *store.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	found, err := tx.Inputs(ctx, store.InputFilter{IDs: ids})
	if err != nil {
		return err
	}
	have := make(map[int64]bool, len(found))
	for _, in := range found {
		have[in.ID] = true
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, fmt.Sprint(id))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no active input with id %s: %w", strings.Join(missing, ", "), store.ErrNotFound)
	}
	return nil
}

// Unlabel removes the label concept from the inputs in ids, or all their labels when concept is "". The
// removed labels stay in the history (see History and Restore). It returns how many labels were removed.
func Unlabel(ctx context.Context, st *store.Store, concept string, ids []int64) (int, error) {
	n := 0
	err := st.Tx(ctx, func(tx *store.Tx) error {
		n = 0
		var cid int64
		if concept != "" {
			c, err := tx.ConceptByName(ctx, concept)
			if err != nil {
				return err
			}
			cid = c.ID
		}
		for _, id := range ids {
			k, err := tx.RemoveAnnotations(ctx, id, cid, "unlabel")
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dataset: unlabelling %d inputs: %w", len(ids), err)
	}
	return n, nil
}

// History returns every label an input has had, oldest first, removed ones included.
func History(ctx context.Context, st *store.Store, inputID int64) ([]store.Annotation, error) {
	return st.Annotations(ctx, inputID, true)
}

// Restore undoes the removal of an annotation (see History); it reports false when that label is already
// active again.
func Restore(ctx context.Context, st *store.Store, annotationID int64) (bool, error) {
	ok := false
	err := st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		ok, err = tx.RestoreAnnotation(ctx, annotationID)
		return err
	})
	return ok, err
}

// RemoveInputs removes inputs: soft (hidden, restorable by uploading them again) or hard (rows deleted;
// labels and dataset memberships follow). It returns how many were removed.
func RemoveInputs(ctx context.Context, st *store.Store, ids []int64, hard bool) (int, error) {
	n := 0
	err := st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.RemoveInputs(ctx, ids, hard)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("dataset: removing %d inputs: %w", len(ids), err)
	}
	return n, nil
}

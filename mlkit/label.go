package mlkit

import (
	"context"

	"github.com/visionnb/visionnb/mlkit/dataset"
	"github.com/visionnb/visionnb/mlkit/store"
)

// Input is one uploaded image (see store.Input).
type Input = store.Input

// Concept is a class name with its number of labelled inputs (see store.Concept).
type Concept = store.Concept

// Concepts lists the class names with how many inputs carry each.
func (a *App) Concepts() ([]Concept, error) { return dataset.Concepts(context.Background(), a.st) }

// CreateConcepts creates class names ahead of labelling; existing ones are kept.
func (a *App) CreateConcepts(names ...string) error {
	return dataset.CreateConcepts(context.Background(), a.st, names...)
}

// Label labels inputs with concept (created when missing) by hand, keeping their other labels. It returns
// how many labels were added.
func (a *App) Label(concept string, inputIDs ...int64) (int, error) {
	return dataset.Label(context.Background(), a.st, concept, inputIDs, dataset.Manual())
}

// LabelFromSearch labels inputs found by a text or visual search; query is recorded with each label.
func (a *App) LabelFromSearch(concept, query string, inputIDs ...int64) (int, error) {
	return dataset.Label(context.Background(), a.st, concept, inputIDs, dataset.FromSearch(query))
}

// Relabel fixes mislabels: concept becomes the only label of each input; the old labels stay in the history.
func (a *App) Relabel(concept string, inputIDs ...int64) (int, error) {
	return dataset.Relabel(context.Background(), a.st, concept, inputIDs, dataset.Manual())
}

// Unlabel removes concept from the inputs (every label when concept is ""); it stays in the history.
func (a *App) Unlabel(concept string, inputIDs ...int64) (int, error) {
	return dataset.Unlabel(context.Background(), a.st, concept, inputIDs)
}

// History lists every label an input has had, removed ones included, oldest first.
func (a *App) History(inputID int64) ([]store.Annotation, error) {
	return dataset.History(context.Background(), a.st, inputID)
}

// Inputs lists all inputs (ordered by id) with their labels.
func (a *App) Inputs() ([]Input, error) {
	return a.st.Inputs(context.Background(), store.InputFilter{})
}

// InputsLabelled lists the inputs labelled concept.
func (a *App) InputsLabelled(concept string) ([]Input, error) {
	return a.st.Inputs(context.Background(), store.InputFilter{Concept: concept})
}

// Unlabelled lists the inputs without any label.
func (a *App) Unlabelled() ([]Input, error) {
	return a.st.Inputs(context.Background(), store.InputFilter{Unlabelled: true})
}

// Remove hides inputs from the app (their labels and files are kept; uploading them again restores them).
func (a *App) Remove(inputIDs ...int64) (int, error) {
	return dataset.RemoveInputs(context.Background(), a.st, inputIDs, false)
}

// LabelFromModel labels inputs with concept as proposed by a model or suggestion method (recorded as the
// labels' source, so they can be audited or undone).
func (a *App) LabelFromModel(concept, model string, inputIDs ...int64) (int, error) {
	return dataset.Label(context.Background(), a.st, concept, inputIDs, dataset.FromModel(model))
}

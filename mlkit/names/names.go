// Package names holds the one rule for the names people give to things in an app: concepts (class
// names), datasets, models and apps. The store enforces it where names enter (creating or renaming a
// concept, creating a dataset version, saving a model) and the facade where an app is created, so the
// CLI and the Go API refuse the same names with the same message.
//
// Concepts and datasets are labels shown in tables and charts: 1 to MaxLen characters of valid UTF-8,
// no control characters (tabs, newlines...), no leading or trailing space. Models and apps are also
// folder names, so they are stricter: letters, digits, '.', '_' and '-', starting with a letter or digit.
package names

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxLen is the longest name of any kind, in characters.
const MaxLen = 64

// ErrInvalid is wrapped by every error of this package.
var ErrInvalid = errors.New("invalid name")

// Kind is what a name names.
type Kind string

// The kinds of names.
const (
	KindConcept Kind = "concept"
	KindDataset Kind = "dataset"
	KindModel   Kind = "model"
	KindApp     Kind = "app"
	// KindSelection names a search selection saved in an app.
	KindSelection Kind = "selection"
)

// Check validates name as a name of kind, returning an error that quotes the name and says the rule.
func Check(kind Kind, name string) error {
	var why string
	switch kind {
	case KindConcept, KindDataset, KindSelection:
		why = labelProblem(name)
	case KindModel, KindApp:
		why = fileProblem(name)
	default:
		return fmt.Errorf("names: unknown kind %q", kind)
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("%s name %q: %s: %w", kind, name, why, ErrInvalid)
}

// Concept validates a concept (class) name.
func Concept(name string) error { return Check(KindConcept, name) }

// Dataset validates a dataset name.
func Dataset(name string) error { return Check(KindDataset, name) }

// Model validates a model name.
func Model(name string) error { return Check(KindModel, name) }

// App validates the name of an app that lives under the apps folder (a bare name, not a path).
func App(name string) error { return Check(KindApp, name) }

func labelProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case utf8.RuneCountInString(name) > MaxLen:
		return fmt.Sprintf("is %d characters long, at most %d allowed", utf8.RuneCountInString(name), MaxLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Sprintf("contains the control character %U (no tabs, newlines or other control characters)", r)
		}
	}
	first, _ := utf8.DecodeRuneInString(name)
	last, _ := utf8.DecodeLastRuneInString(name)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "starts or ends with a space"
	}
	return ""
}

func fileProblem(name string) string {
	if name == "" {
		return "is empty"
	}
	if len(name) > MaxLen {
		return fmt.Sprintf("is %d characters long, at most %d allowed", utf8.RuneCountInString(name), MaxLen)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i > 0 {
			ok = ok || r == '.' || r == '_' || r == '-'
		}
		if !ok {
			return "use letters, digits, '.', '_' or '-', starting with a letter or digit"
		}
	}
	return ""
}

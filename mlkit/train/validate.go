package train

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrInvalidInput is wrapped by every error about bad training input (empty split, labels out of range,
// a class without examples, mismatched vector sizes...), so callers can tell input mistakes from failures.
var ErrInvalidInput = errors.New("invalid training input")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInput, fmt.Sprintf(format, args...))
}

// validateClasses checks the class names: at least two, none empty, no duplicates.
func validateClasses(classes []string) error {
	if len(classes) < 2 {
		return invalid("%d class(es) %q: a classifier needs at least 2 classes", len(classes), classes)
	}
	seen := make(map[string]int, len(classes))
	for i, c := range classes {
		if strings.TrimSpace(c) == "" {
			return invalid("class %d has an empty name", i)
		}
		if j, dup := seen[c]; dup {
			return invalid("class name %q is used twice (classes %d and %d)", c, j, i)
		}
		seen[c] = i
	}
	return nil
}

// validateLabels checks the labels of one split against the classes; for the training split every class
// must have at least one example. describe names example i for error messages.
func validateLabels(split string, labels []int, classes []string, requireAll bool, describe func(i int) string) error {
	if len(labels) == 0 {
		if requireAll {
			return invalid("the %s split is empty: nothing to train on", split)
		}
		return nil
	}
	counts := make([]int, len(classes))
	for i, l := range labels {
		if l < 0 || l >= len(classes) {
			return invalid("%s example %s has label %d, out of range [0, %d) for classes %q", split, describe(i), l, len(classes), classes)
		}
		counts[l]++
	}
	if !requireAll {
		return nil
	}
	var missing []string
	present := 0
	for c, n := range counts {
		if n == 0 {
			missing = append(missing, fmt.Sprintf("%q", classes[c]))
		} else {
			present++
		}
	}
	if present < 2 {
		return invalid("the %s split has examples of one class only (%d examples): a classifier needs at least 2", split, len(labels))
	}
	if len(missing) > 0 {
		return invalid("class(es) %s have no %s example: label some or remove the class", strings.Join(missing, ", "), split)
	}
	return nil
}

// validateEmbedded checks an embedding split; dim is the expected vector length (0: take the first's).
func validateEmbedded(split string, data []Embedded, classes []string, requireAll bool, dim int) (int, error) {
	labels := make([]int, len(data))
	for i, e := range data {
		labels[i] = e.Label
		if len(e.Vector) == 0 {
			return 0, invalid("%s example %d (ID %d) has an empty vector", split, i, e.ID)
		}
		if dim == 0 {
			dim = len(e.Vector)
		}
		if len(e.Vector) != dim {
			return 0, invalid("%s example %d (ID %d) has a %d-d vector, expected %d-d like the others", split, i, e.ID, len(e.Vector), dim)
		}
		for j, v := range e.Vector {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, invalid("%s example %d (ID %d) has a non-finite value %v at position %d", split, i, e.ID, v, j)
			}
		}
	}
	err := validateLabels(split, labels, classes, requireAll, func(i int) string { return fmt.Sprintf("%d (ID %d)", i, data[i].ID) })
	return dim, err
}

// validateExamples checks an image split (paths present, labels in range).
func validateExamples(split string, data []Example, classes []string, requireAll bool) error {
	labels := make([]int, len(data))
	for i, e := range data {
		labels[i] = e.Label
		if strings.TrimSpace(e.Path) == "" {
			return invalid("%s example %d (ID %d) has no image path", split, i, e.ID)
		}
	}
	return validateLabels(split, labels, classes, requireAll, func(i int) string { return fmt.Sprintf("%d (ID %d, %s)", i, data[i].ID, data[i].Path) })
}

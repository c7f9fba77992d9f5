package search

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// DefaultPrompt is the template zero-shot suggestions fill with each concept name.
const DefaultPrompt = "a photo of a {concept}"

// Prompts returns one prompt per concept from a template containing "{concept}".
func Prompts(template string, concepts []string) []string {
	out := make([]string, len(concepts))
	for i, c := range concepts {
		out[i] = strings.ReplaceAll(template, "{concept}", c)
	}
	return out
}

// Suggestion is a proposed concept for one input, for review before it is accepted.
type Suggestion struct {
	ID      int64
	Concept int
	// Confidence is the softmax probability of the proposed concept over all concepts; Margin is its lead
	// over the runner-up.
	Confidence, Margin float64
}

// ZeroShot scores every indexed input against one text embedding per concept and proposes the most
// likely concept, with probabilities softmax(scale * cosine) as CLIP computes them (scale is
// exp(logit_scale), 100 for the released CLIP models). Suggestions come sorted by confidence, highest first.
func ZeroShot(ix *Index, conceptVectors [][]float32, scale float64, keep func(id int64) bool) ([]Suggestion, error) {
	if len(conceptVectors) < 2 {
		return nil, fmt.Errorf("search: zero-shot needs at least 2 concepts, got %d", len(conceptVectors))
	}
	all := make([][]float32, len(conceptVectors))
	for c, v := range conceptVectors {
		s, err := ix.Scores(v)
		if err != nil {
			return nil, fmt.Errorf("search: zero-shot concept %d: %w", c, err)
		}
		all[c] = s
	}
	var out []Suggestion
	logits := make([]float64, len(all))
	for i, id := range ix.ids {
		if keep != nil && !keep(id) {
			continue
		}
		mx := math.Inf(-1)
		for c := range all {
			logits[c] = scale * float64(all[c][i])
			mx = math.Max(mx, logits[c])
		}
		sum := 0.0
		for c := range logits {
			logits[c] = math.Exp(logits[c] - mx)
			sum += logits[c]
		}
		best, second := -1, -1
		for c := range logits {
			logits[c] /= sum
			if best < 0 || logits[c] > logits[best] {
				best, second = c, best
			} else if second < 0 || logits[c] > logits[second] {
				second = c
			}
		}
		out = append(out, Suggestion{ID: id, Concept: best, Confidence: logits[best], Margin: logits[best] - logits[second]})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Confidence > out[b].Confidence })
	return out, nil
}

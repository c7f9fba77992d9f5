package eval

import (
	"fmt"
	"sort"

	"github.com/visionnb/visionnb/mlkit/search"
)

// DuplicateGroups returns the groups of near duplicates among one set of inputs by rule: inputs joined by
// a chain of near-duplicate pairs form one group. set.Vectors may be nil (perceptual hashes alone, whose
// rule clauses need no cosine) and so may set.Hashes (embeddings alone), not both. Only groups of two or
// more are returned, each sorted by id, largest group first. Splitting a group's members into different
// splits would leak: App.Split keeps each group in one split.
func DuplicateGroups(set SplitVectors, rule DuplicateRule) ([][]int64, error) {
	if err := rule.check(); err != nil {
		return nil, err
	}
	n := len(set.IDs)
	if set.Vectors == nil && set.Hashes == nil {
		return nil, fmt.Errorf("eval: near-duplicate groups of %d inputs: neither embeddings nor perceptual hashes", n)
	}
	if set.Vectors != nil && len(set.Vectors) != n {
		return nil, fmt.Errorf("eval: near-duplicate groups: %d vectors for %d inputs", len(set.Vectors), n)
	}
	if set.Hashes != nil && len(set.Hashes) != n {
		return nil, fmt.Errorf("eval: near-duplicate groups: %d hashes for %d inputs", len(set.Hashes), n)
	}
	var ix *search.Index
	if set.Vectors != nil {
		var err error
		if ix, err = search.NewIndex(set.IDs, set.Vectors); err != nil {
			return nil, fmt.Errorf("eval: near-duplicate groups: %w", err)
		}
	}
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for j := 0; j < n; j++ {
		var scores []float32
		if ix != nil {
			var err error
			if scores, err = ix.Scores(set.Vectors[j]); err != nil {
				return nil, fmt.Errorf("eval: near-duplicate groups: input %d: %w", set.IDs[j], err)
			}
		}
		for i := 0; i < j; i++ {
			s := float32(-2) // no embeddings: only the hash clauses can match
			if scores != nil {
				s = scores[i]
			}
			d := -1
			if set.Hashes != nil {
				d = set.Hashes[i].Distance(set.Hashes[j])
			}
			if rule.match(s, d) {
				parent[find(i)] = find(j)
			}
		}
	}
	byRoot := map[int][]int64{}
	for i := range n {
		r := find(i)
		byRoot[r] = append(byRoot[r], set.IDs[i])
	}
	var groups [][]int64
	for _, g := range byRoot {
		if len(g) < 2 {
			continue
		}
		sort.Slice(g, func(a, b int) bool { return g[a] < g[b] })
		groups = append(groups, g)
	}
	sort.Slice(groups, func(a, b int) bool {
		if len(groups[a]) != len(groups[b]) {
			return len(groups[a]) > len(groups[b])
		}
		return groups[a][0] < groups[b][0]
	})
	return groups, nil
}

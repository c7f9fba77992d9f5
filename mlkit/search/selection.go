package search

import (
	"fmt"
	"sort"
)

// Selection is an editable subset of a ranking: what a user means to label. It is built from a ranking
// with Top or Above, then edited with Unselect / UnselectIDs before the facade labels it.
type Selection struct {
	// Query describes how the ranking was made (e.g. `text:"a horse"` or `images:12,40`); it is
	// recorded as the labels' source detail so they can be audited or undone.
	Query      string
	hits       []Hit
	unselected []Hit
}

// NewSelection wraps a ranking (best first).
func NewSelection(query string, ranking []Hit) *Selection {
	return &Selection{Query: query, hits: append([]Hit(nil), ranking...)}
}

// Restore rebuilds a selection saved earlier: its hits (best first) and the hits unselected from it.
func Restore(query string, hits, unselected []Hit) *Selection {
	return &Selection{Query: query, hits: append([]Hit(nil), hits...), unselected: append([]Hit(nil), unselected...)}
}

// Unselected returns the hits removed by Unselect / UnselectIDs, in the order they were removed (what a
// person said is not a match, which a saved selection keeps).
func (s *Selection) Unselected() []Hit { return s.unselected }

// Hits returns the selected hits, best first.
func (s *Selection) Hits() []Hit { return s.hits }

// Len is the number of selected hits.
func (s *Selection) Len() int { return len(s.hits) }

// IDs returns the selected input ids, best first.
func (s *Selection) IDs() []int64 {
	out := make([]int64, len(s.hits))
	for i, h := range s.hits {
		out[i] = h.ID
	}
	return out
}

// Top keeps the first n hits.
func (s *Selection) Top(n int) *Selection {
	if n < len(s.hits) && n >= 0 {
		s.hits = s.hits[:n]
	}
	return s
}

// Above keeps hits whose score is at least min.
func (s *Selection) Above(min float32) *Selection {
	k := sort.Search(len(s.hits), func(i int) bool { return s.hits[i].Score < min })
	s.hits = s.hits[:k]
	return s
}

// Unselect removes hits by their position in the current selection (0-based, as shown in the gallery).
// Out-of-range positions are an error, and nothing is removed.
func (s *Selection) Unselect(positions ...int) error {
	drop := map[int]bool{}
	for _, p := range positions {
		if p < 0 || p >= len(s.hits) {
			return fmt.Errorf("search: unselect position %d is outside the selection of %d (positions start at 0)", p, len(s.hits))
		}
		drop[p] = true
	}
	kept := s.hits[:0:0]
	for i, h := range s.hits {
		if drop[i] {
			s.unselected = append(s.unselected, h)
		} else {
			kept = append(kept, h)
		}
	}
	s.hits = kept
	return nil
}

// UnselectIDs removes hits by input id; an id not in the selection is an error, and nothing is removed.
func (s *Selection) UnselectIDs(ids ...int64) error {
	drop := map[int64]bool{}
	for _, id := range ids {
		drop[id] = true
	}
	found := 0
	for _, h := range s.hits {
		if drop[h.ID] {
			found++
		}
	}
	if found != len(drop) {
		return fmt.Errorf("search: %d of the %d ids to unselect are not in the selection", len(drop)-found, len(drop))
	}
	kept := s.hits[:0:0]
	for _, h := range s.hits {
		if drop[h.ID] {
			s.unselected = append(s.unselected, h)
		} else {
			kept = append(kept, h)
		}
	}
	s.hits = kept
	return nil
}

// Bottom returns the n lowest-ranked selected hits, worst first: the ones to review before labelling.
func (s *Selection) Bottom(n int) []Hit { return Bottom(s.hits, n) }

// Bottom returns the last n hits of a ranking (best first), worst first; all of them when n is negative
// or larger than the ranking.
func Bottom(ranking []Hit, n int) []Hit {
	if n > len(ranking) || n < 0 {
		n = len(ranking)
	}
	out := make([]Hit, n)
	for i := 0; i < n; i++ {
		out[i] = ranking[len(ranking)-1-i]
	}
	return out
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RankedInput is one input of a saved search selection: its id, its 0-based rank in the full ranking and
// its score.
type RankedInput struct {
	ID    int64   `json:"id"`
	Rank  int     `json:"rank"`
	Score float32 `json:"score"`
}

// SearchSelection is a search selection saved under a name: the query, the embedder that ranked it, the
// selected inputs (best first) and those a person unselected from it.
type SearchSelection struct {
	Name, Query, Model string
	Hits, Unselected   []RankedInput
	Created, Updated   time.Time
}

// PutSearchSelection saves s under s.Name, replacing what was saved under that name (its creation time
// stays).
func (t *Tx) PutSearchSelection(ctx context.Context, s SearchSelection) error {
	hits, err := json.Marshal(orEmpty(s.Hits))
	if err != nil {
		return fmt.Errorf("store: saving selection %q: %w", s.Name, err)
	}
	un, err := json.Marshal(orEmpty(s.Unselected))
	if err != nil {
		return fmt.Errorf("store: saving selection %q: %w", s.Name, err)
	}
	now := Now()
	_, err = t.tx.ExecContext(ctx, `INSERT INTO search_selections(name, query, model, hits, unselected, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET query = excluded.query, model = excluded.model, hits = excluded.hits,
			unselected = excluded.unselected, updated_at = excluded.updated_at`,
		s.Name, s.Query, s.Model, string(hits), string(un), now, now)
	if err != nil {
		return fmt.Errorf("store: saving selection %q: %w", s.Name, err)
	}
	return nil
}

func orEmpty(xs []RankedInput) []RankedInput {
	if xs == nil {
		return []RankedInput{}
	}
	return xs
}

// SearchSelection returns the selection saved under name (ErrNotFound when there is none).
func (s *Store) SearchSelection(ctx context.Context, name string) (SearchSelection, error) {
	row := s.db.QueryRowContext(ctx, `SELECT name, query, model, hits, unselected, created_at, updated_at
		FROM search_selections WHERE name = ?`, name)
	sel, err := scanSearchSelection(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return sel, fmt.Errorf("store: selection %q: %w", name, ErrNotFound)
	}
	return sel, err
}

// SearchSelections lists the saved selections by name.
func (s *Store) SearchSelections(ctx context.Context) ([]SearchSelection, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, query, model, hits, unselected, created_at, updated_at
		FROM search_selections ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: listing selections: %w", err)
	}
	defer rows.Close()
	var out []SearchSelection
	for rows.Next() {
		sel, err := scanSearchSelection(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, sel)
	}
	return out, rows.Err()
}

// DeleteSearchSelection deletes the selection saved under name, reporting whether there was one.
func (t *Tx) DeleteSearchSelection(ctx context.Context, name string) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM search_selections WHERE name = ?`, name)
	if err != nil {
		return false, fmt.Errorf("store: deleting selection %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func scanSearchSelection(scan func(...any) error) (SearchSelection, error) {
	var s SearchSelection
	var hits, un, created, updated string
	if err := scan(&s.Name, &s.Query, &s.Model, &hits, &un, &created, &updated); err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(hits), &s.Hits); err != nil {
		return s, fmt.Errorf("store: selection %q: its inputs: %w", s.Name, err)
	}
	if err := json.Unmarshal([]byte(un), &s.Unselected); err != nil {
		return s, fmt.Errorf("store: selection %q: its unselected inputs: %w", s.Name, err)
	}
	s.Created, s.Updated = ParseTime(created), ParseTime(updated)
	return s, nil
}

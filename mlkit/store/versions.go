package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/visionnb/visionnb/mlkit/names"
)

// Split names one part of a dataset version.
type Split string

// The splits of a dataset version.
const (
	Train      Split = "train"
	Validation Split = "validation"
	Test       Split = "test"
)

// Splits lists the splits in their canonical order.
var Splits = []Split{Train, Validation, Test}

// Version is one frozen (or being built) membership of a named dataset.
type Version struct {
	ID        int64
	Dataset   string
	Number    int // 1, 2, ... within the dataset
	Seed      int64
	Spec      string // the split specification, as JSON
	CreatedAt time.Time
	Frozen    bool
}

// Member is one input of a dataset version, with its split and the label it had when the version was made.
type Member struct {
	InputID   int64
	SHA256    string
	Split     Split
	ConceptID int64  // 0 when unlabelled or when the concept was deleted since
	Concept   string // "" likewise
}

// CreateVersion starts the next version of dataset (created when missing), not yet frozen.
func (t *Tx) CreateVersion(ctx context.Context, dataset string, seed int64, spec string) (Version, error) {
	if err := names.Dataset(dataset); err != nil {
		return Version{}, fmt.Errorf("store: %w", err)
	}
	now := Now()
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO datasets(name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING`, dataset, now); err != nil {
		return Version{}, fmt.Errorf("store: creating dataset %q: %w", dataset, err)
	}
	var dsID int64
	var next int
	if err := t.tx.QueryRowContext(ctx, `SELECT d.id, COALESCE((SELECT MAX(version) FROM dataset_versions WHERE dataset_id = d.id), 0) + 1
		FROM datasets d WHERE d.name = ?`, dataset).Scan(&dsID, &next); err != nil {
		return Version{}, fmt.Errorf("store: looking up dataset %q: %w", dataset, err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO dataset_versions(dataset_id, version, seed, spec, created_at) VALUES (?, ?, ?, ?, ?)`,
		dsID, next, seed, spec, now)
	if err != nil {
		return Version{}, fmt.Errorf("store: creating version %d of dataset %q: %w", next, dataset, err)
	}
	id, _ := res.LastInsertId()
	return Version{ID: id, Dataset: dataset, Number: next, Seed: seed, Spec: spec, CreatedAt: ParseTime(now)}, nil
}

// AddMembers adds inputs to a version that is not frozen yet.
func (t *Tx) AddMembers(ctx context.Context, versionID int64, members []Member) error {
	stmt, err := t.tx.PrepareContext(ctx, `INSERT INTO version_members(version_id, input_id, split, concept_id) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store: preparing member insert: %w", err)
	}
	defer stmt.Close()
	for _, m := range members {
		var concept any
		if m.ConceptID != 0 {
			concept = m.ConceptID
		}
		if _, err := stmt.ExecContext(ctx, versionID, m.InputID, string(m.Split), concept); err != nil {
			return fmt.Errorf("store: adding input %d to version %d as %s: %w", m.InputID, versionID, m.Split, err)
		}
	}
	return nil
}

// FreezeVersion freezes a version: its membership can no longer change.
func (t *Tx) FreezeVersion(ctx context.Context, versionID int64) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE dataset_versions SET frozen = 1 WHERE id = ?`, versionID); err != nil {
		return fmt.Errorf("store: freezing version %d: %w", versionID, err)
	}
	return nil
}

const versionColumns = `v.id, d.name, v.version, v.seed, v.spec, v.created_at, v.frozen`

func scanVersion(sc interface{ Scan(...any) error }) (Version, error) {
	var v Version
	var created string
	err := sc.Scan(&v.ID, &v.Dataset, &v.Number, &v.Seed, &v.Spec, &created, &v.Frozen)
	v.CreatedAt = ParseTime(created)
	return v, err
}

// Version returns version number of dataset; number 0 means the latest. It wraps ErrNotFound.
func (s *Store) Version(ctx context.Context, dataset string, number int) (Version, error) {
	return version(ctx, s.db, dataset, number)
}

// Version returns version number of dataset inside the transaction; number 0 means the latest.
func (t *Tx) Version(ctx context.Context, dataset string, number int) (Version, error) {
	return version(ctx, t.tx, dataset, number)
}

func version(ctx context.Context, q queryRower, dataset string, number int) (Version, error) {
	query := `SELECT ` + versionColumns + ` FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = ?`
	args := []any{strings.TrimSpace(dataset)}
	if number > 0 {
		query += ` AND v.version = ?`
		args = append(args, number)
	} else {
		query += ` ORDER BY v.version DESC LIMIT 1`
	}
	v, err := scanVersion(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		if number > 0 {
			return Version{}, fmt.Errorf("store: version %d of dataset %q: %w", number, dataset, ErrNotFound)
		}
		return Version{}, fmt.Errorf("store: dataset %q has no version: %w", dataset, ErrNotFound)
	}
	if err != nil {
		return Version{}, fmt.Errorf("store: looking up dataset %q version %d: %w", dataset, number, err)
	}
	return v, nil
}

// Versions returns every version of every dataset, by dataset name then number.
func (s *Store) Versions(ctx context.Context) ([]Version, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+versionColumns+` FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id
		ORDER BY d.name, v.version`)
	if err != nil {
		return nil, fmt.Errorf("store: listing dataset versions: %w", err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("store: reading version row: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Members returns the members of a version, ordered by split (train, validation, test) then input id.
func (s *Store) Members(ctx context.Context, versionID int64) ([]Member, error) {
	return members(ctx, s.db, versionID)
}

// Members returns the members of a version inside the transaction.
func (t *Tx) Members(ctx context.Context, versionID int64) ([]Member, error) {
	return members(ctx, t.tx, versionID)
}

// querier is what *sql.DB and *sql.Tx have in common for reading.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func members(ctx context.Context, q querier, versionID int64) ([]Member, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.input_id, i.sha256, m.split, COALESCE(m.concept_id, 0), COALESCE(c.name, '')
		FROM version_members m JOIN inputs i ON i.id = m.input_id LEFT JOIN concepts c ON c.id = m.concept_id
		WHERE m.version_id = ?
		ORDER BY CASE m.split WHEN 'train' THEN 0 WHEN 'validation' THEN 1 ELSE 2 END, m.input_id`, versionID)
	if err != nil {
		return nil, fmt.Errorf("store: listing members of version %d: %w", versionID, err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		var split string
		if err := rows.Scan(&m.InputID, &m.SHA256, &split, &m.ConceptID, &m.Concept); err != nil {
			return nil, fmt.Errorf("store: reading member row: %w", err)
		}
		m.Split = Split(split)
		out = append(out, m)
	}
	return out, rows.Err()
}

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

// ErrNotFound is wrapped by lookups of a name or id that is not in the store.
var ErrNotFound = errors.New("not found")

// ErrExists is wrapped when a name is already taken (e.g. renaming a concept onto another's name).
var ErrExists = errors.New("already exists")

// Input is one stored image.
type Input struct {
	ID       int64
	SHA256   string
	FileName string // original base name
	Source   string // where it came from: a file path, "zip:<archive>!<entry>" or a URL
	// Width and Height are the displayed size, after the EXIF orientation is applied.
	Width, Height int
	Format        string // "jpeg", "png", "gif", "bmp" or "webp"
	Bytes         int64
	// Orientation is the EXIF orientation (1..8) of the original bytes in the blob; decoders apply it.
	Orientation int
	AddedAt     time.Time
	Removed     bool     // soft-removed (see Tx.RemoveInputs)
	Labels      []string // names of the active concepts, sorted; filled by Store.Inputs
}

// InsertInput adds in (ID, AddedAt, Removed and Labels are ignored) unless an input with the same SHA-256 is
// there already. It returns the row id and whether a row was added; a soft-removed input with the same
// content is restored and counts as added.
func (t *Tx) InsertInput(ctx context.Context, in Input) (id int64, added bool, err error) {
	if in.Orientation == 0 {
		in.Orientation = 1
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO inputs(sha256, file_name, source, width, height, format, bytes, orientation, added_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING`,
		in.SHA256, in.FileName, in.Source, in.Width, in.Height, in.Format, in.Bytes, in.Orientation, Now())
	if err != nil {
		return 0, false, fmt.Errorf("store: inserting input %s (%s): %w", in.SHA256, in.Source, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		id, err = res.LastInsertId()
		return id, true, err
	}
	var removed sql.NullString
	if err := t.tx.QueryRowContext(ctx, `SELECT id, removed_at FROM inputs WHERE sha256 = ?`, in.SHA256).Scan(&id, &removed); err != nil {
		return 0, false, fmt.Errorf("store: looking up input %s: %w", in.SHA256, err)
	}
	if removed.Valid {
		if _, err := t.tx.ExecContext(ctx, `UPDATE inputs SET removed_at = NULL WHERE id = ?`, id); err != nil {
			return 0, false, fmt.Errorf("store: restoring input %d: %w", id, err)
		}
		return id, true, nil
	}
	return id, false, nil
}

// RemoveInputs removes inputs. Soft removal hides them (kept with removed_at, restorable by uploading the
// same content again); hard removal deletes the rows, and their annotations and dataset memberships follow
// through foreign keys. Blobs are kept (other apps' rows never share them, but a re-upload reuses them).
func (t *Tx) RemoveInputs(ctx context.Context, ids []int64, hard bool) (int, error) {
	n := 0
	for _, id := range ids {
		var res sql.Result
		var err error
		if hard {
			res, err = t.tx.ExecContext(ctx, `DELETE FROM inputs WHERE id = ?`, id)
		} else {
			res, err = t.tx.ExecContext(ctx, `UPDATE inputs SET removed_at = ? WHERE id = ? AND removed_at IS NULL`, Now(), id)
		}
		if err != nil {
			return n, fmt.Errorf("store: removing input %d: %w", id, err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

// InputFilter selects inputs for [Store.Inputs]. The zero value selects every active input.
type InputFilter struct {
	Concept        string  // only inputs with this active label
	Unlabelled     bool    // only inputs without any active label
	IDs            []int64 // only these ids
	IncludeRemoved bool    // also soft-removed inputs
	Limit, Offset  int     // paging; Limit 0 means no limit
}

// Inputs returns the inputs that match f, ordered by id, with their active labels.
func (s *Store) Inputs(ctx context.Context, f InputFilter) ([]Input, error) {
	return inputs(ctx, s.db, f)
}

// Inputs is Store.Inputs inside the transaction.
func (t *Tx) Inputs(ctx context.Context, f InputFilter) ([]Input, error) { return inputs(ctx, t.tx, f) }

func inputs(ctx context.Context, db querier, f InputFilter) ([]Input, error) {
	var where []string
	var args []any
	if !f.IncludeRemoved {
		where = append(where, "i.removed_at IS NULL")
	}
	if f.Concept != "" {
		where = append(where, `EXISTS (SELECT 1 FROM annotations a JOIN concepts c ON c.id = a.concept_id
			WHERE a.input_id = i.id AND a.removed_at IS NULL AND c.name = ?)`)
		args = append(args, f.Concept)
	}
	if f.Unlabelled {
		where = append(where, `NOT EXISTS (SELECT 1 FROM annotations a WHERE a.input_id = i.id AND a.removed_at IS NULL)`)
	}
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return nil, nil
		}
		where = append(where, "i.id IN ("+placeholders(len(f.IDs))+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	q := `SELECT i.id, i.sha256, i.file_name, i.source, i.width, i.height, i.format, i.bytes, i.orientation, i.added_at,
		i.removed_at IS NOT NULL,
		COALESCE((SELECT group_concat(name, char(31)) FROM (SELECT c.name FROM annotations a JOIN concepts c ON c.id = a.concept_id
			WHERE a.input_id = i.id AND a.removed_at IS NULL ORDER BY c.name)), '')
		FROM inputs i`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY i.id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d OFFSET %d", f.Limit, f.Offset)
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: listing inputs: %w", err)
	}
	defer rows.Close()
	var out []Input
	for rows.Next() {
		var in Input
		var added, labels string
		if err := rows.Scan(&in.ID, &in.SHA256, &in.FileName, &in.Source, &in.Width, &in.Height, &in.Format, &in.Bytes,
			&in.Orientation, &added, &in.Removed, &labels); err != nil {
			return nil, fmt.Errorf("store: reading input row: %w", err)
		}
		in.AddedAt = ParseTime(added)
		if labels != "" {
			in.Labels = strings.Split(labels, "\x1f")
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: listing inputs: %w", err)
	}
	return out, nil
}

// InputBySHA returns the input (active or soft-removed) with this content hash, wrapping ErrNotFound.
func (s *Store) InputBySHA(ctx context.Context, sha string) (Input, error) {
	return inputBySHA(ctx, s.db, sha)
}

// InputBySHA is Store.InputBySHA inside the transaction.
func (t *Tx) InputBySHA(ctx context.Context, sha string) (Input, error) {
	return inputBySHA(ctx, t.tx, sha)
}

func inputBySHA(ctx context.Context, db querier, sha string) (Input, error) {
	var id int64
	if err := db.QueryRowContext(ctx, `SELECT id FROM inputs WHERE sha256 = ?`, sha).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Input{}, fmt.Errorf("store: input with sha256 %s: %w", sha, ErrNotFound)
		}
		return Input{}, fmt.Errorf("store: looking up input %s: %w", sha, err)
	}
	return input(ctx, db, id)
}

// Input returns the input with this id (active or soft-removed), wrapping ErrNotFound.
func (s *Store) Input(ctx context.Context, id int64) (Input, error) { return input(ctx, s.db, id) }

func input(ctx context.Context, db querier, id int64) (Input, error) {
	ins, err := inputs(ctx, db, InputFilter{IDs: []int64{id}, IncludeRemoved: true})
	if err != nil {
		return Input{}, err
	}
	if len(ins) == 0 {
		return Input{}, fmt.Errorf("store: input %d: %w", id, ErrNotFound)
	}
	return ins[0], nil
}

// CountInputs returns the number of active inputs.
func (s *Store) CountInputs(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM inputs WHERE removed_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting inputs: %w", err)
	}
	return n, nil
}

// Concept is a class label.
type Concept struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	Inputs    int // active inputs with this active label (filled by Store.Concepts)
}

// EnsureConcept returns the concept called name, creating it when missing.
func (t *Tx) EnsureConcept(ctx context.Context, name string) (Concept, bool, error) {
	if err := names.Concept(name); err != nil {
		return Concept{}, false, fmt.Errorf("store: %w", err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO concepts(name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING`, name, Now())
	if err != nil {
		return Concept{}, false, fmt.Errorf("store: creating concept %q: %w", name, err)
	}
	created, _ := res.RowsAffected()
	c, err := conceptByName(ctx, t.tx, name)
	return c, created == 1, err
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func conceptByName(ctx context.Context, q queryRower, name string) (Concept, error) {
	var c Concept
	var created string
	err := q.QueryRowContext(ctx, `SELECT id, name, created_at FROM concepts WHERE name = ?`, strings.TrimSpace(name)).Scan(&c.ID, &c.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Concept{}, fmt.Errorf("store: concept %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Concept{}, fmt.Errorf("store: looking up concept %q: %w", name, err)
	}
	c.CreatedAt = ParseTime(created)
	return c, nil
}

// ConceptByName returns the concept called name, wrapping ErrNotFound.
func (s *Store) ConceptByName(ctx context.Context, name string) (Concept, error) {
	return conceptByName(ctx, s.db, name)
}

// ConceptByName returns the concept called name inside the transaction, wrapping ErrNotFound.
func (t *Tx) ConceptByName(ctx context.Context, name string) (Concept, error) {
	return conceptByName(ctx, t.tx, name)
}

// Concepts returns every concept, sorted by name, with its number of active labelled inputs.
func (s *Store) Concepts(ctx context.Context) ([]Concept, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.id, c.name, c.created_at,
		(SELECT count(*) FROM annotations a JOIN inputs i ON i.id = a.input_id
		 WHERE a.concept_id = c.id AND a.removed_at IS NULL AND i.removed_at IS NULL)
		FROM concepts c ORDER BY c.name`)
	if err != nil {
		return nil, fmt.Errorf("store: listing concepts: %w", err)
	}
	defer rows.Close()
	var out []Concept
	for rows.Next() {
		var c Concept
		var created string
		if err := rows.Scan(&c.ID, &c.Name, &created, &c.Inputs); err != nil {
			return nil, fmt.Errorf("store: reading concept row: %w", err)
		}
		c.CreatedAt = ParseTime(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

// RenameConcept renames a concept; its annotations follow (they refer to it by id). Renaming onto the
// name of another concept fails with ErrExists (delete or relabel instead: two concepts never merge by
// accident).
func (t *Tx) RenameConcept(ctx context.Context, from, to string) error {
	if err := names.Concept(to); err != nil {
		return fmt.Errorf("store: renaming concept %q: %w", from, err)
	}
	if strings.TrimSpace(from) == to {
		if _, err := conceptByName(ctx, t.tx, from); err != nil {
			return fmt.Errorf("store: renaming concept %q: %w", from, err)
		}
		return nil
	}
	if _, err := conceptByName(ctx, t.tx, to); err == nil {
		return fmt.Errorf("store: renaming concept %q: concept %q %w (relabel its inputs, then delete it)", from, to, ErrExists)
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: renaming concept %q: %w", from, err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE concepts SET name = ? WHERE name = ?`, to, strings.TrimSpace(from))
	if err != nil {
		return fmt.Errorf("store: renaming concept %q to %q: %w", from, to, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: renaming concept %q: %w", from, ErrNotFound)
	}
	return nil
}

// DeleteConcept deletes a concept and (through foreign keys) all its annotations, history included;
// dataset versions keep their members with no label.
func (t *Tx) DeleteConcept(ctx context.Context, name string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM concepts WHERE name = ?`, strings.TrimSpace(name))
	if err != nil {
		return fmt.Errorf("store: deleting concept %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: deleting concept %q: %w", name, ErrNotFound)
	}
	return nil
}

// AnnotationSource says who or what applied a label.
type AnnotationSource string

// The sources of an annotation.
const (
	SourceManual AnnotationSource = "manual" // a person labelled it
	SourceSearch AnnotationSource = "search" // accepted from a text or visual search; Detail holds the query
	SourceModel  AnnotationSource = "model"  // predicted by a model; Detail holds the model name
	SourceFolder AnnotationSource = "folder" // taken from the upload's folder name; Detail holds the folder
)

// Valid reports whether s is one of the known sources.
func (s AnnotationSource) Valid() bool {
	switch s {
	case SourceManual, SourceSearch, SourceModel, SourceFolder:
		return true
	}
	return false
}

// Annotation is one label on one input, active or (with RemovedAt set) part of the history.
type Annotation struct {
	ID        int64
	InputID   int64
	ConceptID int64
	Concept   string
	Source    AnnotationSource
	Detail    string
	CreatedAt time.Time
	RemovedAt time.Time // zero while active
	RemovedBy string    // why it was removed, e.g. "unlabel" or "relabel to dog"
}

// Active reports whether the annotation is in force.
func (a Annotation) Active() bool { return a.RemovedAt.IsZero() }

// AddAnnotation labels an input with a concept unless that label is already active; it reports whether a
// new annotation was written.
func (t *Tx) AddAnnotation(ctx context.Context, inputID, conceptID int64, source AnnotationSource, detail string) (bool, error) {
	if !source.Valid() {
		return false, fmt.Errorf("store: annotation source %q is not one of manual, search, model, folder", source)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO annotations(input_id, concept_id, source, detail, created_at)
		SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM annotations WHERE input_id = ? AND concept_id = ? AND removed_at IS NULL)`,
		inputID, conceptID, string(source), detail, Now(), inputID, conceptID)
	if err != nil {
		return false, fmt.Errorf("store: labelling input %d with concept %d: %w", inputID, conceptID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RemoveAnnotations ends the active annotations of an input: of one concept, or of all when conceptID is 0.
// The rows stay as history with removed_at and removedBy. It returns how many were removed.
func (t *Tx) RemoveAnnotations(ctx context.Context, inputID, conceptID int64, removedBy string) (int, error) {
	q := `UPDATE annotations SET removed_at = ?, removed_by = ? WHERE input_id = ? AND removed_at IS NULL`
	args := []any{Now(), removedBy, inputID}
	if conceptID != 0 {
		q += ` AND concept_id = ?`
		args = append(args, conceptID)
	}
	res, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("store: removing labels of input %d: %w", inputID, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RestoreAnnotation makes a removed annotation active again (undo), unless the same label is active already.
func (t *Tx) RestoreAnnotation(ctx context.Context, annotationID int64) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE annotations SET removed_at = NULL, removed_by = '' WHERE id = ? AND removed_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM annotations b WHERE b.input_id = annotations.input_id AND b.concept_id = annotations.concept_id AND b.removed_at IS NULL)`, annotationID)
	if err != nil {
		return false, fmt.Errorf("store: restoring annotation %d: %w", annotationID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Annotations returns the annotations of an input, oldest first; with history, removed ones too.
func (s *Store) Annotations(ctx context.Context, inputID int64, history bool) ([]Annotation, error) {
	return annotations(ctx, s.db, inputID, history)
}

// Annotations is Store.Annotations inside the transaction.
func (t *Tx) Annotations(ctx context.Context, inputID int64, history bool) ([]Annotation, error) {
	return annotations(ctx, t.tx, inputID, history)
}

func annotations(ctx context.Context, db querier, inputID int64, history bool) ([]Annotation, error) {
	q := `SELECT a.id, a.input_id, a.concept_id, c.name, a.source, a.detail, a.created_at, COALESCE(a.removed_at, ''), a.removed_by
		FROM annotations a JOIN concepts c ON c.id = a.concept_id WHERE a.input_id = ?`
	if !history {
		q += ` AND a.removed_at IS NULL`
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY a.id`, inputID)
	if err != nil {
		return nil, fmt.Errorf("store: listing annotations of input %d: %w", inputID, err)
	}
	defer rows.Close()
	var out []Annotation
	for rows.Next() {
		var a Annotation
		var src, created, removed string
		if err := rows.Scan(&a.ID, &a.InputID, &a.ConceptID, &a.Concept, &src, &a.Detail, &created, &removed, &a.RemovedBy); err != nil {
			return nil, fmt.Errorf("store: reading annotation row: %w", err)
		}
		a.Source, a.CreatedAt, a.RemovedAt = AnnotationSource(src), ParseTime(created), ParseTime(removed)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Label is one active (input, concept) pair, for building datasets.
type Label struct {
	InputID   int64
	SHA256    string
	ConceptID int64
	Concept   string
}

// ActiveLabels returns every active label of every active input, ordered by input id then concept name.
// Inputs without a label are not listed.
func (s *Store) ActiveLabels(ctx context.Context) ([]Label, error) { return activeLabels(ctx, s.db) }

// ActiveLabels is Store.ActiveLabels inside the transaction.
func (t *Tx) ActiveLabels(ctx context.Context) ([]Label, error) { return activeLabels(ctx, t.tx) }

func activeLabels(ctx context.Context, db querier) ([]Label, error) {
	rows, err := db.QueryContext(ctx, `SELECT i.id, i.sha256, c.id, c.name FROM inputs i
		JOIN annotations a ON a.input_id = i.id AND a.removed_at IS NULL
		JOIN concepts c ON c.id = a.concept_id
		WHERE i.removed_at IS NULL ORDER BY i.id, c.name`)
	if err != nil {
		return nil, fmt.Errorf("store: listing labels: %w", err)
	}
	defer rows.Close()
	var out []Label
	for rows.Next() {
		var l Label
		if err := rows.Scan(&l.InputID, &l.SHA256, &l.ConceptID, &l.Concept); err != nil {
			return nil, fmt.Errorf("store: reading label row: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

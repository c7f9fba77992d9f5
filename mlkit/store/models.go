package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/visionnb/visionnb/mlkit/names"
)

// Model is a trained model recorded in the app (its files live in Dir, relative to the app folder).
type Model struct {
	ID       int64
	Name     string
	Kind     string // "head" or "deep"
	Family   string
	Embedder string
	Dataset  string
	Version  int
	Dir      string
	Classes  []string
	Config   json.RawMessage
	Summary  json.RawMessage
	Status   string
	Created  time.Time
	Updated  time.Time
}

// PutModel inserts a model, or replaces the record of the model with the same name as DeleteModel does
// (its old evaluations are deleted with it since they no longer describe it, except test-split ones).
func (t *Tx) PutModel(ctx context.Context, m Model) (int64, error) {
	if err := names.Model(m.Name); err != nil {
		return 0, fmt.Errorf("store: saving model: %w", err)
	}
	classes, err := json.Marshal(m.Classes)
	if err != nil {
		return 0, err
	}
	if len(m.Config) == 0 {
		m.Config = json.RawMessage("{}")
	}
	if len(m.Summary) == 0 {
		m.Summary = json.RawMessage("{}")
	}
	now := Now()
	if _, err := t.DeleteModel(ctx, m.Name); err != nil && !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("store: replacing model %q: %w", m.Name, err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO models(name, kind, family, embedder, dataset, version, dir, classes, config, summary, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.Name, m.Kind, m.Family, m.Embedder, m.Dataset, m.Version, m.Dir,
		string(classes), string(m.Config), string(m.Summary), m.Status, now, now)
	if err != nil {
		return 0, fmt.Errorf("store: saving model %q: %w", m.Name, err)
	}
	return res.LastInsertId()
}

// DeletedSuffix is appended to the name of a deleted model whose record is kept (see DeleteModel), with
// its id: "linear (deleted #3)". Model names cannot contain spaces, so it never clashes with a model.
const DeletedSuffix = " (deleted #%d)"

// DeleteModel deletes the model called name with its evaluations and selections. When the model was
// evaluated on a test split, its record stays, renamed name+DeletedSuffix and marked deleted (Model and
// Models no longer see it; ModelByID does), with its test-split evaluations and the selections that chose
// it: the test split's history (who looked at it, and when) outlives the model. kept says which happened.
// It wraps ErrNotFound when there is no such model.
func (t *Tx) DeleteModel(ctx context.Context, name string) (kept bool, err error) {
	var id int64
	err = t.tx.QueryRowContext(ctx, `SELECT id FROM models WHERE name = ? AND deleted_at IS NULL`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("store: model %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("store: looking up model %q: %w", name, err)
	}
	var tests int
	if err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM evaluations WHERE model_id = ? AND split = ?`, id, string(Test)).Scan(&tests); err != nil {
		return false, fmt.Errorf("store: counting the test evaluations of model %q: %w", name, err)
	}
	if tests == 0 {
		if _, err := t.tx.ExecContext(ctx, `DELETE FROM models WHERE id = ?`, id); err != nil {
			return false, fmt.Errorf("store: deleting model %q: %w", name, err)
		}
		return false, nil
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM evaluations WHERE model_id = ? AND split != ?`, id, string(Test)); err != nil {
		return false, fmt.Errorf("store: deleting the evaluations of model %q: %w", name, err)
	}
	now := Now()
	if _, err := t.tx.ExecContext(ctx, `UPDATE models SET name = ?, deleted_at = ?, updated_at = ? WHERE id = ?`,
		name+fmt.Sprintf(DeletedSuffix, id), now, now, id); err != nil {
		return false, fmt.Errorf("store: marking model %q deleted: %w", name, err)
	}
	return true, nil
}

// SetModelStatus updates a model's status and summary.
func (t *Tx) SetModelStatus(ctx context.Context, id int64, status string, summary json.RawMessage) error {
	if len(summary) == 0 {
		summary = json.RawMessage("{}")
	}
	_, err := t.tx.ExecContext(ctx, `UPDATE models SET status = ?, summary = ?, updated_at = ? WHERE id = ?`, status, string(summary), Now(), id)
	if err != nil {
		return fmt.Errorf("store: updating model %d: %w", id, err)
	}
	return nil
}

const modelCols = `id, name, kind, family, embedder, dataset, version, dir, classes, config, summary, status, created_at, updated_at`

func scanModel(r interface{ Scan(...any) error }) (Model, error) {
	var m Model
	var classes, config, summary, created, updated string
	if err := r.Scan(&m.ID, &m.Name, &m.Kind, &m.Family, &m.Embedder, &m.Dataset, &m.Version, &m.Dir, &classes, &config, &summary, &m.Status, &created, &updated); err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(classes), &m.Classes); err != nil {
		return m, fmt.Errorf("store: model %q classes: %w", m.Name, err)
	}
	m.Config, m.Summary = json.RawMessage(config), json.RawMessage(summary)
	m.Created = ParseTime(created)
	m.Updated = ParseTime(updated)
	return m, nil
}

// Model returns the model record with this name (ErrNotFound when there is none).
func (s *Store) Model(ctx context.Context, name string) (Model, error) {
	m, err := scanModel(s.db.QueryRowContext(ctx, `SELECT `+modelCols+` FROM models WHERE name = ? AND deleted_at IS NULL`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("store: model %q: %w", name, ErrNotFound)
	}
	return m, err
}

// ModelByID returns the model record with this id, a deleted one included (see DeleteModel).
func (s *Store) ModelByID(ctx context.Context, id int64) (Model, error) {
	m, err := scanModel(s.db.QueryRowContext(ctx, `SELECT `+modelCols+` FROM models WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("store: model #%d: %w", id, ErrNotFound)
	}
	return m, err
}

// Models lists every model, oldest first (deleted ones left out).
func (s *Store) Models(ctx context.Context) ([]Model, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+modelCols+` FROM models WHERE deleted_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: listing models: %w", err)
	}
	defer rows.Close()
	var out []Model
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Evaluation is a persisted evaluation of a model on one split of a dataset version.
type Evaluation struct {
	ID          int64
	ModelID     int64
	Dataset     string
	Version     int
	Split       Split
	Report      json.RawMessage
	Predictions json.RawMessage
	Created     time.Time
	// TestOverride is set on a test-split evaluation that was not the selected model's first: the reason
	// the user gave for it.
	TestOverride string
	// Leaked is, on a test-split evaluation, how many test images had near duplicates in train or
	// validation; LeakAck the reason the user gave for evaluating anyway.
	Leaked  int
	LeakAck string
}

// AddEvaluation records an evaluation and returns its id.
func (t *Tx) AddEvaluation(ctx context.Context, e Evaluation) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO evaluations(model_id, dataset, version, split, report, predictions, created_at, test_override, leaked, leak_ack)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ModelID, e.Dataset, e.Version, string(e.Split), string(e.Report), []byte(e.Predictions), Now(), e.TestOverride, e.Leaked, e.LeakAck)
	if err != nil {
		return 0, fmt.Errorf("store: saving evaluation: %w", err)
	}
	return res.LastInsertId()
}

// Evaluations lists evaluations matching the non-zero fields of the filter (model, dataset, version,
// split), oldest first.
func (s *Store) Evaluations(ctx context.Context, modelID int64, dataset string, version int, split Split) ([]Evaluation, error) {
	q := `SELECT id, model_id, dataset, version, split, report, predictions, created_at, test_override, leaked, leak_ack FROM evaluations WHERE 1=1`
	var args []any
	if modelID != 0 {
		q += ` AND model_id = ?`
		args = append(args, modelID)
	}
	if dataset != "" {
		q += ` AND dataset = ?`
		args = append(args, dataset)
	}
	if version != 0 {
		q += ` AND version = ?`
		args = append(args, version)
	}
	if split != "" {
		q += ` AND split = ?`
		args = append(args, string(split))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: listing evaluations: %w", err)
	}
	defer rows.Close()
	var out []Evaluation
	for rows.Next() {
		var e Evaluation
		var split, report, created string
		var preds []byte
		if err := rows.Scan(&e.ID, &e.ModelID, &e.Dataset, &e.Version, &split, &report, &preds, &created, &e.TestOverride, &e.Leaked, &e.LeakAck); err != nil {
			return nil, err
		}
		e.Split, e.Report, e.Predictions = Split(split), json.RawMessage(report), json.RawMessage(preds)
		e.Created = ParseTime(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Selection records which model was chosen on a dataset split by which metric.
type Selection struct {
	ID      int64
	Dataset string
	Version int
	Split   Split
	Metric  string
	ModelID int64
	Value   float64
	Ranking json.RawMessage
	Created time.Time
}

// AddSelection records a model choice.
func (t *Tx) AddSelection(ctx context.Context, s Selection) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO selections(dataset, version, split, metric, model_id, value, ranking, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Dataset, s.Version, string(s.Split), s.Metric, s.ModelID, s.Value, string(s.Ranking), Now())
	if err != nil {
		return 0, fmt.Errorf("store: recording the selection: %w", err)
	}
	return res.LastInsertId()
}

// LatestSelection returns the most recent selection for a dataset version (ErrNotFound when none).
func (s *Store) LatestSelection(ctx context.Context, dataset string, version int) (Selection, error) {
	var sel Selection
	var split, ranking, created string
	var value sql.NullFloat64
	err := s.db.QueryRowContext(ctx, `SELECT id, dataset, version, split, metric, model_id, value, ranking, created_at FROM selections
		WHERE dataset = ? AND version = ? ORDER BY id DESC LIMIT 1`, dataset, version).
		Scan(&sel.ID, &sel.Dataset, &sel.Version, &split, &sel.Metric, &sel.ModelID, &value, &ranking, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return sel, fmt.Errorf("store: no model selected for %s v%d: %w", dataset, version, ErrNotFound)
	}
	if err != nil {
		return sel, fmt.Errorf("store: reading the selection: %w", err)
	}
	sel.Split, sel.Ranking, sel.Value = Split(split), json.RawMessage(ranking), value.Float64
	sel.Created = ParseTime(created)
	return sel, nil
}

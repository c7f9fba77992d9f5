package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// schemaTestRuns is the test-run ledger behind the one-time test rule. It is self-contained: no foreign
// key to models, evaluations or inputs, so replacing or deleting a model (or an input) never erases
// the record that its test inputs were looked at, and triggers keep the ledger append-only. Test
// evaluations made before this migration are copied in, with an empty run_by (not recorded then) and
// the labelled test members of their dataset version as their inputs.
const schemaTestRuns = `
CREATE TABLE test_runs (
	id            INTEGER PRIMARY KEY,
	evaluation_id INTEGER NOT NULL UNIQUE,     -- evaluations(id); the evaluation may be deleted, the run stays
	model_id      INTEGER NOT NULL,
	model_name    TEXT    NOT NULL,
	model_created TEXT    NOT NULL,            -- models.created_at: with model_id, identifies one trained model
	dataset       TEXT    NOT NULL,
	version       INTEGER NOT NULL,
	run_by        TEXT    NOT NULL DEFAULT '', -- the OS user who ran it ('' for runs recorded before this table)
	created_at    TEXT    NOT NULL,
	override      TEXT    NOT NULL DEFAULT ''  -- the reason given when the one-time rule was overridden
);

CREATE TABLE test_run_inputs (
	run_id   INTEGER NOT NULL REFERENCES test_runs(id),
	input_id INTEGER NOT NULL,   -- no foreign key: the record outlives the input
	concept  TEXT    NOT NULL,   -- the label the input was evaluated against
	PRIMARY KEY (run_id, input_id)
) WITHOUT ROWID;
CREATE INDEX test_run_inputs_input ON test_run_inputs(input_id);

CREATE TRIGGER test_runs_no_update BEFORE UPDATE ON test_runs
BEGIN SELECT RAISE(ABORT, 'the test-run record is append-only'); END;
CREATE TRIGGER test_runs_no_delete BEFORE DELETE ON test_runs
BEGIN SELECT RAISE(ABORT, 'the test-run record is append-only'); END;
CREATE TRIGGER test_run_inputs_no_update BEFORE UPDATE ON test_run_inputs
BEGIN SELECT RAISE(ABORT, 'the test-run record is append-only'); END;
CREATE TRIGGER test_run_inputs_no_delete BEFORE DELETE ON test_run_inputs
BEGIN SELECT RAISE(ABORT, 'the test-run record is append-only'); END;

INSERT INTO test_runs(evaluation_id, model_id, model_name, model_created, dataset, version, run_by, created_at, override)
SELECT e.id, e.model_id, m.name, m.created_at, e.dataset, e.version, '', e.created_at, e.test_override
FROM evaluations e JOIN models m ON m.id = e.model_id
WHERE e.split = 'test' AND EXISTS (SELECT 1 FROM datasets d WHERE d.name = e.dataset)
ORDER BY e.id;

INSERT INTO test_run_inputs(run_id, input_id, concept)
SELECT r.id, vm.input_id, c.name
FROM test_runs r
JOIN datasets d ON d.name = r.dataset
JOIN dataset_versions v ON v.dataset_id = d.id AND v.version = r.version
JOIN version_members vm ON vm.version_id = v.id AND vm.split = 'test'
JOIN concepts c ON c.id = vm.concept_id;
`

// TestRun is one recorded evaluation on a test split: which model looked at which test inputs (with
// the labels they had), on which dataset version, who ran it and when, and why the one-time rule was
// overridden if it was.
type TestRun struct {
	ID           int64
	EvaluationID int64
	ModelID      int64
	ModelName    string
	// ModelCreated is the model record's creation time: a model replaced under the same name (even one
	// that reuses the id) has another.
	ModelCreated time.Time
	Dataset      string
	Version      int
	// RunBy is the OS user who ran the evaluation ("" for runs recorded before mlkit kept it).
	RunBy    string
	Created  time.Time
	Override string
	// Inputs maps each evaluated test input to the label it was evaluated against.
	Inputs map[int64]string
}

// AddTestRun records a test evaluation in the append-only ledger and returns the run's id. Created is
// set to now.
func (t *Tx) AddTestRun(ctx context.Context, r TestRun) (int64, error) {
	if len(r.Inputs) == 0 {
		return 0, fmt.Errorf("store: recording the test run of %q on %s v%d: no inputs", r.ModelName, r.Dataset, r.Version)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO test_runs(evaluation_id, model_id, model_name, model_created, dataset, version, run_by, created_at, override)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.EvaluationID, r.ModelID, r.ModelName, r.ModelCreated.UTC().Format(TimeFormat),
		r.Dataset, r.Version, r.RunBy, Now(), r.Override)
	if err != nil {
		return 0, fmt.Errorf("store: recording the test run of %q on %s v%d: %w", r.ModelName, r.Dataset, r.Version, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: recording the test run of %q: %w", r.ModelName, err)
	}
	stmt, err := t.tx.PrepareContext(ctx, `INSERT INTO test_run_inputs(run_id, input_id, concept) VALUES (?, ?, ?)`)
	if err != nil {
		return 0, fmt.Errorf("store: preparing test-run inputs: %w", err)
	}
	defer stmt.Close()
	ids := make([]int64, 0, len(r.Inputs))
	for in := range r.Inputs {
		ids = append(ids, in)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, in := range ids {
		if _, err := stmt.ExecContext(ctx, id, in, r.Inputs[in]); err != nil {
			return 0, fmt.Errorf("store: recording input %d of the test run of %q: %w", in, r.ModelName, err)
		}
	}
	return id, nil
}

// TestRuns returns every recorded test run with its inputs, oldest first. The one-time rule keeps
// them few, so callers filter in memory.
func (s *Store) TestRuns(ctx context.Context) ([]TestRun, error) { return testRuns(ctx, s.db) }

// TestRuns returns every recorded test run inside the transaction.
func (t *Tx) TestRuns(ctx context.Context) ([]TestRun, error) { return testRuns(ctx, t.tx) }

func testRuns(ctx context.Context, q querier) ([]TestRun, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, evaluation_id, model_id, model_name, model_created, dataset, version, run_by, created_at, override
		FROM test_runs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: listing test runs: %w", err)
	}
	var out []TestRun
	byID := map[int64]int{}
	for rows.Next() {
		var r TestRun
		var mc, created string
		if err := rows.Scan(&r.ID, &r.EvaluationID, &r.ModelID, &r.ModelName, &mc, &r.Dataset, &r.Version, &r.RunBy, &created, &r.Override); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: reading a test run: %w", err)
		}
		r.ModelCreated, r.Created, r.Inputs = ParseTime(mc), ParseTime(created), map[int64]string{}
		byID[r.ID] = len(out)
		out = append(out, r)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("store: listing test runs: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: listing test runs: %w", err)
	}
	in, err := q.QueryContext(ctx, `SELECT run_id, input_id, concept FROM test_run_inputs`)
	if err != nil {
		return nil, fmt.Errorf("store: listing test-run inputs: %w", err)
	}
	defer in.Close()
	for in.Next() {
		var run, id int64
		var concept string
		if err := in.Scan(&run, &id, &concept); err != nil {
			return nil, fmt.Errorf("store: reading a test-run input: %w", err)
		}
		i, ok := byID[run]
		if !ok {
			return nil, fmt.Errorf("store: test-run input %d belongs to unknown run %d", id, run)
		}
		out[i].Inputs[id] = concept
	}
	if err := in.Err(); err != nil {
		return nil, fmt.Errorf("store: listing test-run inputs: %w", err)
	}
	return out, nil
}

// Evaluation returns one evaluation by id (ErrNotFound when there is none).
func (s *Store) Evaluation(ctx context.Context, id int64) (Evaluation, error) {
	var e Evaluation
	var split, report, created string
	var preds []byte
	err := s.db.QueryRowContext(ctx, `SELECT id, model_id, dataset, version, split, report, predictions, created_at, test_override, leaked, leak_ack
		FROM evaluations WHERE id = ?`, id).Scan(&e.ID, &e.ModelID, &e.Dataset, &e.Version, &split, &report, &preds, &created, &e.TestOverride, &e.Leaked, &e.LeakAck)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("store: evaluation #%d: %w", id, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("store: reading evaluation #%d: %w", id, err)
	}
	e.Split, e.Report, e.Predictions = Split(split), json.RawMessage(report), json.RawMessage(preds)
	e.Created = ParseTime(created)
	return e, nil
}

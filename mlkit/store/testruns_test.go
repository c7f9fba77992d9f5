package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// seedTestEvaluation records two inputs (dog, cat) in the test split of ds v1, a model, and one test
// evaluation of it, the way the app did before the test-run ledger existed.
func seedTestEvaluation(t *testing.T, st *Store) (modelID, evalID int64, inputs []int64) {
	t.Helper()
	ctx := context.Background()
	err := st.Tx(ctx, func(tx *Tx) error {
		v, err := tx.CreateVersion(ctx, "ds", 1, "{}")
		if err != nil {
			return err
		}
		var members []Member
		for i, c := range []string{"dog", "cat", "cow"} {
			id, _, err := tx.InsertInput(ctx, Input{SHA256: fakeSHA(i), FileName: c + ".jpg", Source: "/" + c, Width: 2, Height: 2, Format: "jpeg", Bytes: 10})
			if err != nil {
				return err
			}
			concept, _, err := tx.EnsureConcept(ctx, c)
			if err != nil {
				return err
			}
			split := Test
			if c == "cow" {
				split = Train
			} else {
				inputs = append(inputs, id)
			}
			members = append(members, Member{InputID: id, Split: split, ConceptID: concept.ID})
		}
		if err := tx.AddMembers(ctx, v.ID, members); err != nil {
			return err
		}
		if err := tx.FreezeVersion(ctx, v.ID); err != nil {
			return err
		}
		if modelID, err = tx.PutModel(ctx, Model{Name: "m", Kind: "head", Family: "linear", Dataset: "ds", Version: 1, Dir: "models/m", Classes: []string{"cat", "dog"}, Status: "done"}); err != nil {
			return err
		}
		// Evaluations as the schema of then stored them (no leak columns yet).
		oldEvaluation := func(dataset string) (int64, error) {
			res, err := tx.tx.ExecContext(ctx, `INSERT INTO evaluations(model_id, dataset, version, split, report, predictions, created_at, test_override)
				VALUES (?, ?, 1, 'test', '{}', '{}', ?, '')`, modelID, dataset, Now())
			if err != nil {
				return 0, err
			}
			return res.LastInsertId()
		}
		if evalID, err = oldEvaluation("ds"); err != nil {
			return err
		}
		// An evaluation on another app's dataset is not a look at this app's inputs.
		_, err = oldEvaluation("/elsewhere:new")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return modelID, evalID, inputs
}

// TestTestRunsMigrationBackfillsAndLedgerIsAppendOnly opens a database made before the test-run ledger,
// checks that its test evaluation is copied in with its test inputs, and that the ledger survives the
// model's deletion and refuses updates and deletes.
func TestTestRunsMigrationBackfillsAndLedgerIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	idx := -1
	for i, m := range migrations {
		if m.SQL == schemaTestRuns {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatal("the test-run migration is not in the list")
	}
	dir := filepath.Join(t.TempDir(), "app")
	all := migrations
	migrations = all[:idx]
	st, err := Open(dir)
	if err != nil {
		migrations = all
		t.Fatal(err)
	}
	modelID, evalID, inputs := seedTestEvaluation(t, st)
	st.Close()
	migrations = all
	if st, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.TestRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("backfilled %d test runs, want 1 (the other app's dataset is not this app's test split): %+v", len(runs), runs)
	}
	r := runs[0]
	if r.EvaluationID != evalID || r.ModelID != modelID || r.ModelName != "m" || r.RunBy != "" || r.ModelCreated.IsZero() ||
		len(r.Inputs) != 2 || r.Inputs[inputs[0]] != "dog" || r.Inputs[inputs[1]] != "cat" {
		t.Fatalf("backfilled run: %+v (inputs %v)", r, inputs)
	}
	if e, err := st.Evaluation(ctx, evalID); err != nil || e.Split != Test || e.ModelID != modelID {
		t.Fatalf("evaluation #%d: %+v %v", evalID, e, err)
	}
	if _, err := st.Evaluation(ctx, evalID+1000); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing evaluation: err = %v, want ErrNotFound", err)
	}
	// A new run is recorded with its user; deleting the model leaves the ledger whole.
	err = st.Tx(ctx, func(tx *Tx) error {
		_, err := tx.AddTestRun(ctx, TestRun{EvaluationID: evalID + 100, ModelID: modelID, ModelName: "m", ModelCreated: r.ModelCreated,
			Dataset: "ds", Version: 1, RunBy: "alice", Override: "why", Inputs: map[int64]string{inputs[0]: "dog"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`DELETE FROM models WHERE id = ?`, modelID); err != nil {
		t.Fatal(err)
	}
	if runs, err = st.TestRuns(ctx); err != nil || len(runs) != 2 || runs[1].RunBy != "alice" || runs[1].Override != "why" || len(runs[1].Inputs) != 1 {
		t.Fatalf("after deleting the model: %+v %v", runs, err)
	}
	for _, q := range []string{`DELETE FROM test_runs`, `UPDATE test_runs SET run_by = 'mallory'`, `DELETE FROM test_run_inputs`, `UPDATE test_run_inputs SET concept = 'cat'`} {
		if _, err := st.DB().Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want append-only refusal", q, err)
		}
	}
}

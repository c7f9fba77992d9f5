package mlkit

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// noEmbeddingInput soft-removes one train member of ds v1 and deletes its cached vector: Embed no longer
// covers it, but the frozen version still has it.
func noEmbeddingInput(t *testing.T, app *App) int64 {
	t.Helper()
	_, members, err := app.versionMembers("ds")
	if err != nil {
		t.Fatal(err)
	}
	id := members[0].InputID // the first train member
	if _, err := app.Remove(id); err != nil {
		t.Fatal(err)
	}
	if _, err := app.st.DB().ExecContext(context.Background(), `DELETE FROM embeddings WHERE input_id = ?`, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestLabelErrorsReportsInputsItCannotCheck: a labelled member without an embedding was silently left
// out of the check; now it is an error naming it. Too many folds for the data is an error too.
func TestLabelErrorsReportsInputsItCannotCheck(t *testing.T) {
	quietMessages(t)
	app := ruleApp(t)
	if _, err := app.LabelErrors(DefaultEmbedder, "ds", Folds(100)); err == nil || !strings.Contains(err.Error(), "100 folds") {
		t.Fatalf("100 folds on 36 inputs: err = %v", err)
	}
	if _, err := app.LabelErrors(DefaultEmbedder, "ds", Folds(3)); err != nil {
		t.Fatalf("every input embedded: %v", err)
	}
	id := noEmbeddingInput(t, app)
	_, err := app.LabelErrors(DefaultEmbedder, "ds", Folds(3))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("input %d", id)) || !strings.Contains(err.Error(), "ds v1") {
		t.Fatalf("an input without an embedding: err = %v, want an error naming input %d", err, id)
	}
}

// TestTestWarnsWhenTheLeakageCheckCannotRun: the leakage check before a test evaluation gave up
// silently when an input had no cached vector; now it says it could not run, and why.
func TestTestWarnsWhenTheLeakageCheckCannotRun(t *testing.T) {
	msgs := quietMessages(t)
	app := ruleApp(t)
	if _, err := app.Select("ds", "validation", "accuracy", "a", "b"); err != nil {
		t.Fatal(err)
	}
	id := noEmbeddingInput(t, app)
	if _, err := app.Test("ds"); err != nil {
		t.Fatal(err)
	}
	out := msgs.String()
	if !strings.Contains(out, "leakage check could not run on ds v1") || !strings.Contains(out, fmt.Sprintf("input %d first", id)) {
		t.Fatalf("messages: %q, want a notice that the leakage check could not run and why", out)
	}
}

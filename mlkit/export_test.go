package mlkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit/store"
)

// TestExportModelIsAStandaloneModule: an unfinished model is refused; a finished one exports as its own
// Go module (go.mod requiring this project, replaced by the local checkout, other requirements pinned,
// go.sum copied) whose predict program builds outside the repository with no network.
func TestExportModelIsAStandaloneModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the exported program (slow) in -short mode")
	}
	t.Setenv(HomeEnv, t.TempDir())
	photos := t.TempDir()
	for i := range 8 {
		p := filepath.Join(photos, []string{"cat", "dog"}[i%2], fmt.Sprintf("%d.png", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, noisePNG(t, int64(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app, err := Create("export")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx := context.Background()
	if _, err := app.Upload().Folder(photos).LabelsFromFolders().Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Split("d", Counts(6, 2, 0).WithSeed(1)); err != nil {
		t.Fatal(err)
	}
	m, err := app.Train("My_Model.v2").OnDataset("d").Head(countingEmbedderName).Epochs(1).Quiet().Run()
	if err != nil {
		t.Fatal(err)
	}
	// An unfinished model (training interrupted, or still running) is refused, and nothing is written.
	if err := app.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetModelStatus(ctx, m.ID, "training", m.Summary) }); err != nil {
		t.Fatal(err)
	}
	refused := filepath.Join(t.TempDir(), "refused")
	if err := app.ExportModel("My_Model.v2", refused); err == nil || !strings.Contains(err.Error(), "not finished") {
		t.Fatalf("exporting an unfinished model: %v", err)
	}
	if _, err := os.Stat(refused); !os.IsNotExist(err) {
		t.Errorf("the refused export wrote %s", refused)
	}
	if err := app.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetModelStatus(ctx, m.ID, ModelStatusDone, m.Summary) }); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "exported")
	if err := app.ExportModel("My_Model.v2", out); err != nil {
		t.Fatal(err)
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(out, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"module mlkit-export/my_model.v2", "replace github.com/visionnb/visionnb => " + root,
		"github.com/gomlx/gomlx v0.26.0", "modernc.org/sqlite v1.62.0",
		// The project's own replaces, local paths made absolute (Go ignores a dependency's replaces).
		"replace github.com/gomlx/go-xla => " + filepath.Join(root, "third_party", "go-xla")} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("go.mod lacks %q:\n%s", want, gomod)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "go.sum")); err != nil {
		t.Error(err)
	}
	// Build it where it is, outside the repository, from the module cache only.
	bin := filepath.Join(t.TempDir(), "predict")
	cmd := offlineGo(out, "build", "-o", bin, "./predict")
	start := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in the exported folder: %v\n%s\ngo.mod:\n%s", err, msg, gomod)
	}
	t.Logf("exported program built in %v", time.Since(start).Round(time.Millisecond))
	// It runs: without arguments it prints its usage and exits 2.
	usage := exec.Command(bin)
	msg, err := usage.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(msg), "usage: predict MODEL_DIR") {
		t.Errorf("exported program without arguments: %v %s", err, msg)
	}
}

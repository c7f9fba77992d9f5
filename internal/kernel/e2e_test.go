package kernel

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testLog adapts t.Log to an io.Writer.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestEndToEnd installs the kernel (gonb built from go.mod's pin) into temporary bin and Jupyter data
// directories, runs notebooks/00-smoke.ipynb headless and checks its outputs, then runs two deliberately
// failing notebooks (a panic nbconvert calls a success, and a compile error that stops execution) and
// checks that both are reported as failed with the right cell.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: end-to-end notebook run (-short)")
	}
	if _, err := exec.LookPath("jupyter"); err != nil {
		t.Skip("skipping: jupyter is not installed (run `make setup`: apt packages jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel)")
	}
	runner := NewRunner(repoRoot)
	python, err := runner.findPython()
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	if out, err := exec.Command(python, "-c", "import nbconvert, nbclient, jupyter_client").CombinedOutput(); err != nil {
		t.Skipf("skipping: %s cannot import nbconvert/nbclient/jupyter_client (run `make setup`): %v\n%s", python, err, out)
	}
	root := absRoot(t)
	bin, data, out := t.TempDir(), t.TempDir(), t.TempDir()
	if _, err := NewInstaller(root).BinDir(bin).DataDir(data).Log(testLog{t}).Done(); err != nil {
		t.Fatal(err)
	}
	runner.DataDir(data).OutDir(out).Timeout(5 * time.Minute).Log(testLog{t})
	ctx := context.Background()

	t.Run("smoke", func(t *testing.T) {
		results, err := runner.HTML(true).Run(ctx, filepath.Join(root, "notebooks", "00-smoke.ipynb"))
		runner.HTML(false)
		if err != nil {
			t.Fatal(err)
		}
		res := results[0]
		if res.Failed() {
			t.Fatalf("smoke notebook failed:\n%s", res.Report())
		}
		nb, err := ReadNotebook(res.Executed)
		if err != nil {
			t.Fatal(err)
		}
		var stdout strings.Builder
		for _, c := range nb.Cells {
			for _, o := range c.Outputs {
				if o.OutputType == "stream" && o.Name == "stdout" {
					stdout.WriteString(string(o.Text))
				}
			}
		}
		for _, want := range []string{"mlkit wired: " + root + " (go.mod pinned: gomlx v0.26.0)", "shared dir: "} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("smoke output lacks %q:\n%s", want, stdout.String())
			}
		}
		if len(res.Timings) != 2 {
			t.Errorf("got %d cell timings, want 2", len(res.Timings))
		}
		if st, err := os.Stat(res.HTML); err != nil || st.Size() == 0 {
			t.Errorf("HTML rendering %q missing or empty: %v", res.HTML, err)
		}
	})

	t.Run("failing", func(t *testing.T) {
		dir := t.TempDir()
		writeNotebook(t, filepath.Join(dir, "panics.ipynb"), "!*mlkit-kernel wire", "%%\nfmt.Println(\"before\")\npanic(\"deliberate failure\")")
		writeNotebook(t, filepath.Join(dir, "compile_error.ipynb"), "!*mlkit-kernel wire", "%%\nx := undefinedThing + 1\nfmt.Println(x)", "%%\nfmt.Println(\"never runs\")")
		results, err := runner.Run(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != 2 {
			t.Fatalf("got %d results, want 2", len(results))
		}
		compileErr, panics := results[0], results[1] // sorted by name
		if !panics.Failed() || len(panics.Problems) == 0 || panics.Problems[0].Kind != ProblemPanic || panics.Problems[0].Cell != 1 {
			t.Errorf("panicking notebook not reported as a panic in cell 1:\n%s", panics.Report())
		}
		if !compileErr.Failed() || compileErr.EngineCell != 1 || len(compileErr.Problems) == 0 || compileErr.Problems[0].Kind != ProblemError {
			t.Errorf("compile error not reported as an error in cell 1:\n%s", compileErr.Report())
		}
		if !strings.Contains(strings.Join(compileErr.Problems[0].Excerpt, "\n"), "undefinedThing") {
			t.Errorf("compile error excerpt does not name the undefined identifier:\n%s", compileErr.Report())
		}
		// The partial notebook is kept: the failing cell has its error, the next one never ran.
		nb, err := ReadNotebook(compileErr.Executed)
		if err != nil {
			t.Fatalf("partial notebook not kept: %v", err)
		}
		if len(nb.Cells) != 3 || nb.Cells[2].ExecutionCount != nil {
			t.Errorf("partial notebook: the cell after the compile error ran")
		}
	})
}

// writeNotebook writes an nbformat 4 notebook with one code cell per source, for the Go (mlkit) kernel.
func writeNotebook(t *testing.T, path string, sources ...string) {
	t.Helper()
	var cells []string
	for _, s := range sources {
		cells = append(cells, `{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": `+jsonString(s)+`}`)
	}
	nb := `{"nbformat": 4, "nbformat_minor": 4, "metadata": {"kernelspec": {"name": "` + Name +
		`", "display_name": "` + DisplayName + `", "language": "go"}}, "cells": [` + strings.Join(cells, ",") + `]}`
	mustWrite(t, path, nb)
}

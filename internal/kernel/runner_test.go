package kernel

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpandNotebooks(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.ipynb", "a.ipynb", "notes.txt"} {
		mustWrite(t, filepath.Join(dir, name), "{}")
	}
	if err := os.Mkdir(filepath.Join(dir, ".ipynb_checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, ".ipynb_checkpoints", "a-checkpoint.ipynb"), "{}")
	single := filepath.Join(dir, "notes.txt")
	got, err := ExpandNotebooks(dir, single)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.ipynb"), filepath.Join(dir, "b.ipynb"), single}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ExpandNotebooks = %q, want %q", got, want)
	}
	if _, err := ExpandNotebooks(t.TempDir()); err == nil {
		t.Error("a directory without notebooks expanded without error")
	}
	if _, err := ExpandNotebooks(filepath.Join(dir, "missing.ipynb")); err == nil {
		t.Error("a missing notebook expanded without error")
	}
}

// fakeKernel writes a kernel spec for root into a temporary data dir, so the runner does not install one.
func fakeKernel(t *testing.T, root string) string {
	t.Helper()
	data := t.TempDir()
	spec := Spec{Argv: []string{"/bin/sh", "--kernel", "{connection_file}"}, DisplayName: DisplayName, Language: "go",
		Env: map[string]string{RootEnv: root}}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(SpecPath(data)), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, SpecPath(data), string(b))
	return data
}

// fakePython writes an executable that stands in for the Python driver: it prints status and copies the
// input notebook to the output path when copy is set.
func fakePython(t *testing.T, status string, exit int, copyNotebook bool) string {
	t.Helper()
	script := "#!/bin/sh\n# args: -c SCRIPT IN OUT KERNEL TIMEOUT\n"
	if copyNotebook {
		script += "cp \"$3\" \"$4\"\n"
	}
	script += "echo '" + status + "'\nexit " + string(rune('0'+exit)) + "\n"
	p := filepath.Join(t.TempDir(), "python")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunnerWithFakeDriver(t *testing.T) {
	root := absRoot(t)
	data := fakeKernel(t, root)
	ctx := context.Background()
	nbPath := filepath.Join("testdata", "exit_status.ipynb")

	t.Run("missing nbconvert", func(t *testing.T) {
		py := fakePython(t, `{"ok": false, "cell": -1, "kind": "missing", "message": "No module named nbconvert"}`, 3, false)
		_, err := NewRunner(root).DataDir(data).OutDir(t.TempDir()).Python(py).Log(io.Discard).Run(ctx, nbPath)
		if err == nil || !strings.Contains(err.Error(), "nbconvert is not importable") {
			t.Errorf("err = %v, want 'nbconvert is not importable'", err)
		}
	})

	t.Run("scan after a clean exit", func(t *testing.T) {
		// nbconvert says OK, but the saved notebook holds "exit status 2": the run must fail.
		py := fakePython(t, `{"ok": true, "cell": -1, "kind": "", "message": "", "seconds": {"1": 0.5}}`, 0, true)
		out := t.TempDir()
		results, err := NewRunner(root).DataDir(data).OutDir(out).Python(py).Log(io.Discard).Run(ctx, nbPath)
		if err != nil {
			t.Fatal(err)
		}
		res := results[0]
		if !res.Failed() || len(res.Problems) != 1 || res.Problems[0].Kind != ProblemExitStatus {
			t.Errorf("result not failed with exit status:\n%s", res.Report())
		}
		if res.Executed != filepath.Join(out, "exit_status.ipynb") {
			t.Errorf("executed notebook at %q", res.Executed)
		}
		if res.Timings[1].Duration.Seconds() != 0.5 {
			t.Errorf("driver timing not used: %+v", res.Timings)
		}
		if !strings.Contains(res.Report(), "FAILED") {
			t.Errorf("report does not say FAILED:\n%s", res.Report())
		}
	})

	t.Run("engine error without notebook", func(t *testing.T) {
		py := fakePython(t, `{"ok": false, "cell": 0, "kind": "DeadKernelError", "message": "Kernel died"}`, 1, false)
		results, err := NewRunner(root).DataDir(data).OutDir(t.TempDir()).Python(py).Log(io.Discard).Run(ctx, nbPath)
		if err != nil {
			t.Fatal(err)
		}
		if !results[0].Failed() || !strings.Contains(results[0].EngineError, "no executed notebook") {
			t.Errorf("result = %+v, want failed with 'no executed notebook'", results[0])
		}
	})

	t.Run("refuses to overwrite the input", func(t *testing.T) {
		py := fakePython(t, `{"ok": true}`, 0, false)
		if _, err := NewRunner(root).DataDir(data).OutDir("testdata").Python(py).Log(io.Discard).Run(ctx, nbPath); err == nil {
			t.Error("runner wrote its output over the input notebook")
		}
	})
}

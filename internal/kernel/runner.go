package kernel

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// driverScript executes one notebook with nbconvert's ExecutePreprocessor and always saves it.
//
//go:embed driver.py
var driverScript string

// PythonEnv names the environment variable that overrides the Python interpreter used to run notebooks
// (it must import nbconvert). By default it is the interpreter of the `jupyter` command on PATH.
const PythonEnv = "MLKIT_PYTHON"

// Runner executes notebooks headless with the "Go (mlkit)" kernel and checks their outputs. Create it
// with NewRunner, set options, and call Run.
type Runner struct {
	root, outDir, dataDir, python string
	html                          bool
	timeout                       time.Duration
	log                           io.Writer
}

// NewRunner returns a runner for the repository at root. Defaults: output into "out", no HTML, a 20
// minute timeout per cell, the isolated Jupyter data directory DefaultDataDir(root) (the kernel is
// installed there first if missing), progress to os.Stderr.
func NewRunner(root string) *Runner {
	return &Runner{root: root, outDir: "out", dataDir: DefaultDataDir(root), timeout: 20 * time.Minute, log: os.Stderr}
}

// OutDir sets where executed notebooks (and HTML) are written.
func (r *Runner) OutDir(dir string) *Runner { r.outDir = dir; return r }

// HTML sets whether an HTML rendering of each executed notebook is written too.
func (r *Runner) HTML(html bool) *Runner { r.html = html; return r }

// Timeout sets the per-cell execution timeout.
func (r *Runner) Timeout(d time.Duration) *Runner { r.timeout = d; return r }

// DataDir sets the Jupyter data directory holding the kernel spec.
func (r *Runner) DataDir(dir string) *Runner { r.dataDir = dir; return r }

// Python sets the interpreter that runs nbconvert (default $MLKIT_PYTHON, else jupyter's own).
func (r *Runner) Python(path string) *Runner { r.python = path; return r }

// Log sets where progress, timings and problems are printed.
func (r *Runner) Log(w io.Writer) *Runner { r.log = w; return r }

// Result is the outcome of running one notebook.
type Result struct {
	// Notebook is the input path.
	Notebook string
	// Executed is the executed (possibly partial) notebook written, empty if none was.
	Executed string
	// HTML is the HTML rendering written, empty if none.
	HTML string
	// Problems are the failures Scan found in the executed notebook.
	Problems []Problem
	// EngineError is set when execution itself stopped (a failing cell, a timeout, a kernel that would not
	// start): the exception nbconvert raised and the cell it was running (-1 if none).
	EngineError string
	// EngineCell is the cell execution stopped at, -1 if it did not stop early.
	EngineCell int
	// Timings are the per-cell durations.
	Timings []CellTiming
	// Wall is the whole run's duration, kernel start included.
	Wall time.Duration
}

// Failed reports whether the notebook failed.
func (res *Result) Failed() bool { return len(res.Problems) > 0 || res.EngineError != "" }

// Report formats the result: status line, timings table and problems.
func (res *Result) Report() string {
	var b strings.Builder
	status := "OK"
	if res.Failed() {
		status = "FAILED"
	}
	fmt.Fprintf(&b, "%s: %s in %.1fs", res.Notebook, status, res.Wall.Seconds())
	if res.Executed != "" {
		fmt.Fprintf(&b, " -> %s", res.Executed)
	}
	if res.HTML != "" {
		fmt.Fprintf(&b, ", %s", res.HTML)
	}
	b.WriteString("\n")
	if len(res.Timings) > 0 {
		b.WriteString(FormatTimings(res.Timings))
	}
	for _, p := range res.Problems {
		b.WriteString("  " + strings.ReplaceAll(p.String(), "\n", "\n  ") + "\n")
	}
	if res.EngineError != "" && len(res.Problems) == 0 {
		fmt.Fprintf(&b, "  execution stopped at cell %d: %s\n", res.EngineCell, indent(firstLines(res.EngineError, 15), "    | "))
	}
	return b.String()
}

// ExpandNotebooks turns arguments into notebook paths: files as given, directories into their *.ipynb
// files (sorted, not recursive, checkpoints skipped).
func ExpandNotebooks(args ...string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("notebook argument: %w", err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(a, "*.ipynb"))
		if err != nil {
			return nil, fmt.Errorf("listing notebooks in %s: %w", a, err)
		}
		sort.Strings(matches)
		if len(matches) == 0 {
			return nil, fmt.Errorf("no *.ipynb notebooks in directory %s", a)
		}
		out = append(out, matches...)
	}
	return out, nil
}

// Run executes every notebook (directories are expanded with ExpandNotebooks), one after the other, and
// returns their results. The error is for problems that stop everything (no notebooks, Jupyter not
// installed, kernel install failed); a failing notebook is reported in its Result.
func (r *Runner) Run(ctx context.Context, args ...string) ([]*Result, error) {
	paths, err := ExpandNotebooks(args...)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("run: no notebooks given")
	}
	python, err := r.findPython()
	if err != nil {
		return nil, err
	}
	if err := r.ensureKernel(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.outDir, 0o755); err != nil {
		return nil, fmt.Errorf("run: creating output directory: %w", err)
	}
	var results []*Result
	for _, p := range paths {
		res, err := r.runOne(ctx, python, p)
		if err != nil {
			return results, err
		}
		fmt.Fprint(r.log, res.Report())
		results = append(results, res)
		if ctx.Err() != nil {
			return results, fmt.Errorf("run: interrupted: %w", ctx.Err())
		}
	}
	return results, nil
}

// ensureKernel installs the kernel spec into the data directory unless a spec for this root is there.
func (r *Runner) ensureKernel() error {
	root, err := filepath.Abs(r.root)
	if err != nil {
		return fmt.Errorf("run: resolving root: %w", err)
	}
	if spec, err := ReadSpec(r.dataDir); err == nil && spec.Env[RootEnv] == root && len(spec.Argv) > 0 {
		if _, err := os.Stat(spec.Argv[0]); err == nil {
			return nil
		}
	}
	in := NewInstaller(root).DataDir(r.dataDir).Log(r.log)
	bin := DefaultBinDir(root)
	haveAll := true
	for _, tool := range []string{"gonb", "goimports", "mlkit-kernel"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
			haveAll = false
		}
	}
	if _, err := in.SkipTools(haveAll).Done(); err != nil {
		return fmt.Errorf("run: installing the kernel into %s: %w", r.dataDir, err)
	}
	return nil
}

// findPython returns an interpreter that imports nbconvert: Python(), $MLKIT_PYTHON, the interpreter in
// the shebang of `jupyter` on PATH, else python3.
func (r *Runner) findPython() (string, error) {
	if r.python != "" {
		return r.python, nil
	}
	if p := os.Getenv(PythonEnv); p != "" {
		return p, nil
	}
	jupyter, err := exec.LookPath("jupyter")
	if err != nil {
		return "", fmt.Errorf("run: the jupyter command is not on PATH (run `make setup`, or apt-get install jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel): %w", err)
	}
	if py := shebangPython(jupyter); py != "" {
		return py, nil
	}
	return "python3", nil
}

// shebangPython returns the interpreter named by a script's #! line ("" when it cannot tell).
func shebangPython(script string) string {
	f, err := os.Open(script)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "#!") {
		return ""
	}
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		return ""
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		if p, err := exec.LookPath(fields[1]); err == nil {
			return p
		}
		return ""
	}
	if !strings.Contains(filepath.Base(fields[0]), "python") {
		return ""
	}
	return fields[0]
}

type driverStatus struct {
	OK      bool   `json:"ok"`
	Cell    int    `json:"cell"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// Seconds maps a cell index to its duration as measured by the driver, which is finer than the
	// whole-second timestamps GoNB puts in its message headers.
	Seconds map[string]float64 `json:"seconds"`
}

// runOne executes one notebook, saves it and scans it.
func (r *Runner) runOne(ctx context.Context, python, path string) (*Result, error) {
	res := &Result{Notebook: path, EngineCell: -1}
	src, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("run: resolving %s: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	dst := filepath.Join(r.outDir, name+".ipynb")
	if absDst, err := filepath.Abs(dst); err == nil && absDst == src {
		return nil, fmt.Errorf("run: output %s would overwrite the notebook itself: choose another --out", dst)
	}
	_ = os.Remove(dst)

	fmt.Fprintf(r.log, "running %s (kernel %s, cell timeout %s)\n", path, Name, r.timeout)
	secs := int(r.timeout.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	cmd := exec.CommandContext(ctx, python, "-c", driverScript, src, dst, Name, fmt.Sprint(secs))
	cmd.Env = append(os.Environ(), "JUPYTER_DATA_DIR="+r.dataDir, "PYDEVD_DISABLE_FILE_VALIDATION=1")
	stopDriverOnCancel(cmd)
	cmd.WaitDelay = 30 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	runErr := cmd.Run()
	res.Wall = time.Since(start)
	if ctx.Err() != nil && stdout.Len() == 0 {
		return nil, fmt.Errorf("run %s: interrupted (%v): %w", path, runErr, ctx.Err())
	}

	var status driverStatus
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &status); jerr != nil {
		return nil, fmt.Errorf("run %s: the notebook driver (%s) failed: %v\n%s%s", path, python, runErr, stdout.String(), firstLines(stderr.String(), 30))
	}
	if status.Kind == "missing" {
		return nil, fmt.Errorf("run: nbconvert is not importable by %s (run `make setup`, or set $%s): %s", python, PythonEnv, status.Message)
	}
	if !status.OK {
		res.EngineError = status.Kind + ": " + StripANSI(status.Message)
		res.EngineCell = status.Cell
	}
	if _, err := os.Stat(dst); err != nil {
		res.EngineError = fmt.Sprintf("no executed notebook was written (%v): %s", runErr, firstLines(stderr.String(), 20))
		return res, nil
	}
	res.Executed = dst
	nb, err := ReadNotebook(dst)
	if err != nil {
		res.EngineError = err.Error()
		return res, nil
	}
	res.Problems = Scan(nb)
	res.Timings = Timings(nb)
	for i := range res.Timings {
		if secs, ok := status.Seconds[fmt.Sprint(res.Timings[i].Cell)]; ok {
			res.Timings[i].Duration = time.Duration(secs * float64(time.Second))
		}
	}
	if r.html {
		htmlCmd := exec.CommandContext(ctx, python, "-m", "nbconvert", "--to", "html", "--output-dir", r.outDir, "--output", name, dst)
		htmlCmd.Env = cmd.Env
		if out, err := htmlCmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("run: converting %s to HTML: %w\n%s", dst, err, out)
		}
		res.HTML = filepath.Join(r.outDir, name+".html")
	}
	return res, nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "[...]")
	}
	return strings.Join(lines, "\n")
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

package backend_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/visionnb/visionnb/mlkit/backend"
)

// compileCacheReport is what TestCompileCacheHelper prints: the cache's counters and the program's output.
type compileCacheReport struct {
	Dir    string
	Stats  backend.CompileCacheStats
	Output []float32
}

// TestCompileCacheHelper is run in a subprocess by TestCompileCache*: it compiles and runs one small program on
// XLA and prints a compileCacheReport.
func TestCompileCacheHelper(t *testing.T) {
	if os.Getenv("MLKIT_COMPILE_CACHE_HELPER") != "1" {
		t.Skip("helper for TestCompileCache*, run in a subprocess")
	}
	b, _, err := backend.New()
	if err != nil {
		t.Fatalf("backend.New: %v", err)
	}
	defer b.Finalize()
	exec := graph.MustNewExec(b, func(x *graph.Node) *graph.Node {
		w := graph.Iota(x.Graph(), x.Shape(), 0)
		return graph.ReduceSum(graph.Tanh(graph.Add(graph.MatMul(x, w), graph.Const(x.Graph(), float32(0.5)))), -1)
	})
	x := [][]float32{{1, 2, 3}, {0.5, -1, 0.25}, {0, 0, 1}}
	out := exec.MustExec(x)[0].Value().([]float32)
	data, _ := json.Marshal(compileCacheReport{Dir: backend.CompileCacheDir(), Stats: backend.GetCompileCacheStats(), Output: out})
	os.Stdout.WriteString("REPORT=" + string(data) + "\n")
}

func runCompileCacheHelper(t *testing.T, env ...string) compileCacheReport {
	t.Helper()
	rest := helperLine(t, "TestCompileCacheHelper", "REPORT=",
		append([]string{"MLKIT_COMPILE_CACHE_HELPER=1", "MLKIT_BACKEND=xla:cpu", "GOMLX_BACKEND="}, env...)...)
	var r compileCacheReport
	if err := json.Unmarshal([]byte(rest), &r); err != nil {
		t.Fatalf("bad report %q: %v", rest, err)
	}
	return r
}

func requireXLA(t *testing.T) {
	t.Helper()
	if !slices.Contains(backend.Available(), "xla:cpu") {
		t.Skip("the XLA CPU plugin is not installed (run `make setup`): no compile cache to test")
	}
}

func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := filepath.Glob(filepath.Join(dir, "*", "*.pjrt"))
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestCompileCacheLoadsWhatAnotherProcessCompiled is the notebook case: one cell (process) compiles a program,
// the next one that builds the same program loads it instead, with the same results.
func TestCompileCacheLoadsWhatAnotherProcessCompiled(t *testing.T) {
	requireXLA(t)
	dir := filepath.Join(t.TempDir(), "xla")
	first := runCompileCacheHelper(t, backend.CompileCacheEnvVar+"="+dir)
	if first.Dir != dir {
		t.Fatalf("cache folder %q, want %q from $%s", first.Dir, dir, backend.CompileCacheEnvVar)
	}
	if first.Stats.Hits != 0 || first.Stats.Misses < 1 || first.Stats.Stored != first.Stats.Misses || first.Stats.Errors != 0 {
		t.Fatalf("first process on an empty cache: %+v, want only misses, each stored", first.Stats)
	}
	if n := len(cacheEntries(t, dir)); int64(n) != first.Stats.Stored {
		t.Fatalf("%d entries on disk after storing %d", n, first.Stats.Stored)
	}
	second := runCompileCacheHelper(t, backend.CompileCacheEnvVar+"="+dir)
	if second.Stats.Misses != 0 || second.Stats.Hits != first.Stats.Misses || second.Stats.Errors != 0 {
		t.Fatalf("second process: %+v, want every program loaded (%d hits) and none compiled", second.Stats, first.Stats.Misses)
	}
	if !slices.Equal(first.Output, second.Output) || len(first.Output) != 3 {
		t.Fatalf("loaded program computes %v, compiled one %v", second.Output, first.Output)
	}

	// A different XLA_FLAGS is a different program: compiled, not loaded.
	flagged := runCompileCacheHelper(t, backend.CompileCacheEnvVar+"="+dir, "XLA_FLAGS=--xla_cpu_enable_fast_math=false")
	if flagged.Stats.Hits != 0 || flagged.Stats.Misses < 1 {
		t.Fatalf("with other XLA_FLAGS: %+v, want a compile", flagged.Stats)
	}
}

// TestCompileCacheSurvivesCorruptEntries: a truncated or overwritten entry (a full disk, a killed process, a
// hostile file) is dropped and the program compiled again; it never fails the run.
func TestCompileCacheSurvivesCorruptEntries(t *testing.T) {
	requireXLA(t)
	dir := filepath.Join(t.TempDir(), "xla")
	first := runCompileCacheHelper(t, backend.CompileCacheEnvVar+"="+dir)
	entries := cacheEntries(t, dir)
	if len(entries) == 0 {
		t.Fatal("no cache entry written")
	}
	for i, e := range entries {
		data, err := os.ReadFile(e)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0:
			data = data[:len(data)/2] // truncated
		case 1:
			data[len(data)-10] ^= 0xff // one flipped byte
		default:
			data = []byte("not an executable")
		}
		if err := os.WriteFile(e, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	again := runCompileCacheHelper(t, backend.CompileCacheEnvVar+"="+dir)
	if again.Stats.Hits != 0 || again.Stats.Errors != int64(len(entries)) || again.Stats.Stored != again.Stats.Misses {
		t.Fatalf("corrupt entries: %+v, want %d errors, each compiled and stored again", again.Stats, len(entries))
	}
	if !slices.Equal(first.Output, again.Output) {
		t.Fatalf("after corrupt entries the program computes %v, want %v", again.Output, first.Output)
	}
	third := runCompileCacheHelper(t, backend.CompileCacheEnvVar+"="+dir)
	if third.Stats.Hits != first.Stats.Misses || third.Stats.Misses != 0 {
		t.Fatalf("after rewriting: %+v, want every program loaded", third.Stats)
	}
}

// TestCompileCacheOff: MLKIT_XLA_CACHE=off compiles every time and writes nothing.
func TestCompileCacheOff(t *testing.T) {
	requireXLA(t)
	r := runCompileCacheHelper(t, backend.CompileCacheEnvVar+"=off")
	if r.Dir != "" || r.Stats != (backend.CompileCacheStats{}) {
		t.Fatalf("cache off: dir %q, stats %+v, want none", r.Dir, r.Stats)
	}
}

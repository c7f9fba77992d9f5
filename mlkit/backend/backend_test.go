package backend_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/backend"
)

// TestSelectionHelper is run in a subprocess by the selection tests: it prints the chosen backend.
func TestSelectionHelper(t *testing.T) {
	if os.Getenv("MLKIT_SELECTION_HELPER") != "1" {
		t.Skip("helper for TestSelection*, run in a subprocess")
	}
	b, info, err := backend.New()
	if err != nil {
		t.Fatalf("backend.New: %v", err)
	}
	defer b.Finalize()
	os.Stdout.WriteString("SELECTED=" + info.Name + "|" + b.String() + "|" + info.Reason + "\n")
}

// selectIn runs backend.New in a fresh process (go-xla reads its plugin paths at start-up) with env added.
func selectIn(t *testing.T, env ...string) (name, backendName, reason string) {
	t.Helper()
	rest := helperLine(t, "TestSelectionHelper", "SELECTED=",
		append([]string{"MLKIT_SELECTION_HELPER=1", "MLKIT_BACKEND=", "GOMLX_BACKEND="}, env...)...)
	parts := strings.SplitN(rest, "|", 3)
	if len(parts) != 3 {
		t.Fatalf("selection subprocess printed %q, want name|backend|reason", rest)
	}
	return parts[0], parts[1], parts[2]
}

// helperLine runs the helper test named test in a subprocess of this test binary, with env added to the
// environment, and returns the rest of the first output line that starts with prefix.
func helperLine(t *testing.T, test, prefix string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s subprocess failed: %v\n%s", test, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return rest
		}
	}
	t.Fatalf("%s subprocess printed no %s line:\n%s", test, prefix, out)
	return ""
}

func TestSelectionFallsBackToPureGoWithoutPlugin(t *testing.T) {
	name, bName, reason := selectIn(t, "PJRT_PLUGIN_LIBRARY_PATH="+t.TempDir())
	if name != backend.PureGo || bName != backend.PureGo {
		t.Errorf("without any PJRT plugin: selected %q (backend %q), want %q", name, bName, backend.PureGo)
	}
	if !strings.Contains(reason, "make setup") {
		t.Errorf("reason %q should say how to get XLA (`make setup`)", reason)
	}
}

func TestSelectionHonoursEnvironment(t *testing.T) {
	name, bName, reason := selectIn(t, "GOMLX_BACKEND=go")
	if name != "go" || bName != "go" || !strings.Contains(reason, "GOMLX_BACKEND") {
		t.Errorf("GOMLX_BACKEND=go: got %q/%q (%s)", name, bName, reason)
	}
	name, bName, _ = selectIn(t, "GOMLX_BACKEND=go", "MLKIT_BACKEND=mlkitgo")
	if name != "mlkitgo" || bName != "mlkitgo" {
		t.Errorf("MLKIT_BACKEND must win over GOMLX_BACKEND: got %q/%q", name, bName)
	}
}

func TestSelectionPrefersXLAWhenInstalled(t *testing.T) {
	avail := backend.Available()
	if len(avail) < 2 {
		t.Skipf("no XLA plugin installed here (available: %v); run `make setup`", avail)
	}
	name, _, reason := selectIn(t)
	if name != avail[0] {
		t.Errorf("selected %q (%s), want the best available %q", name, reason, avail[0])
	}
}

func TestUnknownBackendIsAnErrorNotAPanic(t *testing.T) {
	t.Setenv(backend.EnvVar, "no-such-backend")
	if _, _, err := backend.New(); err == nil {
		t.Error("backend.New with an unknown backend name returned no error")
	}
}

package kernel

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// fakeRoot writes a repository root with a go.mod (requires, a relative replace) and a go.sum.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "go.mod"), `module `+ModulePath+`

go 1.26.8

require (
	github.com/gomlx/gomlx v0.26.0
	github.com/janpfeifer/gonb v0.11.1
)

require golang.org/x/mod v0.42.0 // indirect

replace example.com/fork => ./third_party/fork
`)
	mustWrite(t, filepath.Join(root, "go.sum"), "github.com/gomlx/gomlx v0.26.0 h1:AAA=\ngithub.com/gomlx/gomlx v0.26.0/go.mod h1:BBB=\n")
	return root
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWire(t *testing.T) {
	root := fakeRoot(t)
	mod := t.TempDir()
	mustWrite(t, filepath.Join(mod, "go.mod"), "module gonb_1234\n\ngo 1.24\n\nrequire github.com/gomlx/gomlx v0.27.0\n")
	mustWrite(t, filepath.Join(mod, "go.sum"), "example.com/x v1.0.0 h1:XXX=\ngithub.com/gomlx/gomlx v0.26.0 h1:AAA=\n")

	res, err := Wire(mod, root)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Pinned != 3 || res.GoMLXVersion != "v0.26.0" {
		t.Errorf("result = %+v, want changed, 3 pinned, gomlx v0.26.0", res)
	}
	if got, want := res.String(), "mlkit wired: "+root+" (go.mod pinned: gomlx v0.26.0)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	data, err := os.ReadFile(filepath.Join(mod, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatalf("wired go.mod does not parse: %v\n%s", err, data)
	}
	if f.Module.Mod.Path != "gonb_1234" || f.Go.Version != "1.26.8" {
		t.Errorf("module %q go %q, want gonb_1234 and go 1.26.8", f.Module.Mod.Path, f.Go.Version)
	}
	want := map[string]string{
		ModulePath:                   PseudoVersion,
		"github.com/gomlx/gomlx":     "v0.26.0", // pinned down from the cell's v0.27.0
		"github.com/janpfeifer/gonb": "v0.11.1",
		"golang.org/x/mod":           "v0.42.0",
	}
	got := map[string]string{}
	for _, r := range f.Require {
		if _, dup := got[r.Mod.Path]; dup {
			t.Errorf("%s required twice", r.Mod.Path)
		}
		got[r.Mod.Path] = r.Mod.Version
	}
	for p, v := range want {
		if got[p] != v {
			t.Errorf("require %s %q, want %q", p, got[p], v)
		}
	}
	replaces := map[string]string{}
	for _, r := range f.Replace {
		replaces[r.Old.Path] = r.New.Path
	}
	if replaces[ModulePath] != root {
		t.Errorf("replace %s => %q, want %q", ModulePath, replaces[ModulePath], root)
	}
	if want := filepath.Join(root, "third_party", "fork"); replaces["example.com/fork"] != want {
		t.Errorf("relative replace became %q, want %q", replaces["example.com/fork"], want)
	}
	sum, err := os.ReadFile(filepath.Join(mod, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	wantSum := "example.com/x v1.0.0 h1:XXX=\ngithub.com/gomlx/gomlx v0.26.0 h1:AAA=\ngithub.com/gomlx/gomlx v0.26.0/go.mod h1:BBB=\n"
	if string(sum) != wantSum {
		t.Errorf("merged go.sum:\n%s\nwant:\n%s", sum, wantSum)
	}

	// Idempotent: a second run changes nothing.
	res2, err := Wire(mod, root)
	if err != nil {
		t.Fatal(err)
	}
	data2, _ := os.ReadFile(filepath.Join(mod, "go.mod"))
	if res2.Changed || string(data2) != string(data) {
		t.Errorf("second Wire changed go.mod (changed=%v):\n%s\nthen:\n%s", res2.Changed, data, data2)
	}
}

func TestWireErrors(t *testing.T) {
	root := fakeRoot(t)
	if _, err := Wire(t.TempDir(), root); err == nil || !strings.Contains(err.Error(), "no go.mod") {
		t.Errorf("empty dir: err = %v, want a 'no go.mod' error", err)
	}
	if _, err := Wire(root, root); err == nil || !strings.Contains(err.Error(), "own module") {
		t.Errorf("wiring the repository itself: err = %v, want refusal", err)
	}
	other := t.TempDir()
	mustWrite(t, filepath.Join(other, "go.mod"), "module example.com/other\n")
	mod := t.TempDir()
	mustWrite(t, filepath.Join(mod, "go.mod"), "module gonb_1\n")
	if _, err := Wire(mod, other); err == nil || !strings.Contains(err.Error(), "does not declare") {
		t.Errorf("wrong root: err = %v, want 'does not declare'", err)
	}
}

// TestWireBuildsOffline wires a fresh module to the real repository and builds a program importing
// mlkit/assets with the module proxy turned off: the pinned requires and merged go.sum must suffice.
func TestWireBuildsOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds a program (-short)")
	}
	root := absRoot(t)
	mod := t.TempDir()
	mustWrite(t, filepath.Join(mod, "go.mod"), "module gonb_test\n\ngo 1.26\n")
	mustWrite(t, filepath.Join(mod, "main.go"), `package main

import (
	"fmt"

	"github.com/visionnb/visionnb/mlkit/assets"
)

func main() { fmt.Println(assets.SharedEnv) }
`)
	if _, err := Wire(mod, root); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run in the wired module: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "MLKIT_SHARED" {
		t.Errorf("program printed %q, want MLKIT_SHARED", out)
	}
}

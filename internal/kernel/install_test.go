package kernel

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstallWritesSpec(t *testing.T) {
	root := absRoot(t)
	bin, data := t.TempDir(), t.TempDir()
	for _, tool := range []string{"gonb", "goimports", "mlkit-kernel"} {
		mustWrite(t, filepath.Join(bin, tool), "#!/bin/sh\n")
	}
	specPath, err := NewInstaller(root).BinDir(bin).DataDir(data).SkipTools(true).Log(io.Discard).Done()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "kernels", Name, "kernel.json"); specPath != want {
		t.Errorf("spec at %s, want %s", specPath, want)
	}
	spec, err := ReadSpec(data)
	if err != nil {
		t.Fatal(err)
	}
	if spec.DisplayName != DisplayName || spec.Language != "go" {
		t.Errorf("display name %q language %q", spec.DisplayName, spec.Language)
	}
	wantArgv := []string{filepath.Join(bin, "gonb"), "--kernel", "{connection_file}", "--raw_error"}
	if strings.Join(spec.Argv, " ") != strings.Join(wantArgv, " ") {
		t.Errorf("argv = %q, want %q", spec.Argv, wantArgv)
	}
	if spec.Env[RootEnv] != root {
		t.Errorf("%s = %q, want %q", RootEnv, spec.Env[RootEnv], root)
	}
	path := strings.Split(spec.Env["PATH"], string(os.PathListSeparator))
	if path[0] != bin || path[len(path)-1] != "${PATH}" {
		t.Errorf("PATH = %q, want %s first and ${PATH} last", spec.Env["PATH"], bin)
	}
	if spec.Env["GOTOOLCHAIN"] != "local" || !strings.Contains(spec.Env["GOFLAGS"], "-mod=mod") {
		t.Errorf("env = %v, want GOTOOLCHAIN=local and GOFLAGS with -mod=mod", spec.Env)
	}

	// Re-installing for JupyterLab users drops --raw_error, and the spec is rewritten in place.
	if _, err := NewInstaller(root).BinDir(bin).DataDir(data).SkipTools(true).RawErrors(false).Log(io.Discard).Done(); err != nil {
		t.Fatal(err)
	}
	spec, err = ReadSpec(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Argv) != 3 {
		t.Errorf("argv = %q, want no --raw_error", spec.Argv)
	}
}

func TestInstallErrors(t *testing.T) {
	root := absRoot(t)
	if _, err := NewInstaller(root).BinDir(t.TempDir()).DataDir(t.TempDir()).SkipTools(true).Log(io.Discard).Done(); err == nil || !strings.Contains(err.Error(), "gonb missing") {
		t.Errorf("empty bin dir with SkipTools: err = %v, want 'gonb missing'", err)
	}
	if _, err := NewInstaller(t.TempDir()).Log(io.Discard).Done(); err == nil {
		t.Error("a root without go.mod installed without error")
	}
}

func TestFindRootFromEnv(t *testing.T) {
	root := absRoot(t)
	t.Setenv(RootEnv, root)
	got, err := FindRoot()
	if err != nil || got != root {
		t.Errorf("FindRoot() = %q, %v; want %q", got, err, root)
	}
	t.Setenv(RootEnv, t.TempDir())
	if _, err := FindRoot(); err == nil {
		t.Error("FindRoot accepted a $MLKIT_ROOT without our go.mod")
	}
}

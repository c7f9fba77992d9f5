// Package kernel installs and drives the project's Jupyter kernel "Go (mlkit)": GoNB v0.11.1 pinned by
// the repository's go.mod, a kernel spec whose environment points at the repository, the one-line
// notebook wiring (`!*mlkit-kernel wire`) that makes a GoNB cell import this module with our pinned
// dependency versions, and a headless runner that executes notebooks and fails on any error, panic or
// non-zero exit that Jupyter itself would report as success.
package kernel

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/mod/modfile"
)

const (
	// ModulePath is the Go module path of this repository, the module notebooks import.
	ModulePath = "github.com/visionnb/visionnb"

	// Name is the directory name of the kernel spec, and the name nbconvert is given.
	Name = "gomlkit"

	// DisplayName is the kernel name users see in JupyterLab.
	DisplayName = "Go (mlkit)"

	// RootEnv names the environment variable that holds the repository root; the kernel spec sets it.
	RootEnv = "MLKIT_ROOT"

	// GoNBVersion is the GoNB version the repository's go.mod pins as a tool.
	GoNBVersion = "v0.11.1"
)

// FindRoot returns the repository root: $MLKIT_ROOT when set, else the first directory holding a
// go.mod that declares ModulePath, searched upwards from the running executable (bin/mlkit-kernel lives
// in <root>/bin) and then from the working directory.
func FindRoot() (string, error) {
	if r := os.Getenv(RootEnv); r != "" {
		if err := CheckRoot(r); err != nil {
			return "", fmt.Errorf("$%s=%q: %w", RootEnv, r, err)
		}
		return filepath.Abs(r)
	}
	var starts []string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			if CheckRoot(dir) == nil {
				return filepath.Abs(dir)
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("cannot find the repository root (a go.mod declaring %s) above %q: set $%s", ModulePath, starts, RootEnv)
}

// CheckRoot returns nil when dir holds a go.mod declaring ModulePath.
func CheckRoot(dir string) error {
	p := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading repository go.mod: %w", err)
	}
	if !bytes.Contains(data, []byte(ModulePath)) {
		return fmt.Errorf("%s does not declare module %s", p, ModulePath)
	}
	f, err := modfile.ParseLax(p, data, nil)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", p, err)
	}
	if f.Module == nil || f.Module.Mod.Path != ModulePath {
		return fmt.Errorf("%s does not declare module %s", p, ModulePath)
	}
	return nil
}

// DefaultDataDir returns the isolated Jupyter data directory that tests, CI and the headless runner use:
// <root>/.cache/jupyter. The user's own Jupyter configuration is never touched by default.
func DefaultDataDir(root string) string { return filepath.Join(root, ".cache", "jupyter") }

// DefaultBinDir returns where GoNB, goimports and mlkit-kernel are installed: <root>/bin.
func DefaultBinDir(root string) string { return filepath.Join(root, "bin") }

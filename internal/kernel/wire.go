package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

// PseudoVersion is the placeholder version under which a GoNB module requires ModulePath; the replace
// directive points it at the repository (a replace alone fails: autoget asks the proxy about the path).
const PseudoVersion = "v0.0.0-00010101000000-000000000000"

// TmpDirEnv names the environment variable GoNB sets to its temporary module directory when it runs a
// `!*command` in a cell.
const TmpDirEnv = "GONB_TMP_DIR"

// WireResult says what Wire did.
type WireResult struct {
	// Root is the repository directory the module is replaced with.
	Root string
	// GoMod is the path of the edited go.mod.
	GoMod string
	// Pinned counts the require lines copied from the repository's go.mod.
	Pinned int
	// GoMLXVersion is the github.com/gomlx/gomlx version pinned (empty if the repository does not require it).
	GoMLXVersion string
	// Changed is false when go.mod and go.sum were already wired (nothing was written).
	Changed bool
}

// String returns the one line `mlkit-kernel wire` prints.
func (r *WireResult) String() string {
	pin := "gomlx " + r.GoMLXVersion
	if r.GoMLXVersion == "" {
		pin = fmt.Sprintf("%d modules", r.Pinned)
	}
	return fmt.Sprintf("mlkit wired: %s (go.mod pinned: %s)", r.Root, pin)
}

// Wire edits the Go module in modDir (GoNB's $GONB_TMP_DIR) so that its programs can import ModulePath
// from the repository at root with exactly the dependency versions of the repository's go.mod: it adds
// `require ModulePath PseudoVersion` plus `replace ModulePath => root`, copies every require (and every
// replace, with relative paths made absolute) of the repository's go.mod, raises the go directive to the
// repository's, and merges the repository's go.sum into modDir/go.sum. It is idempotent and touches no
// network.
func Wire(modDir, root string) (*WireResult, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("wire: resolving root %q: %w", root, err)
	}
	rootModPath := filepath.Join(root, "go.mod")
	rootData, err := os.ReadFile(rootModPath)
	if err != nil {
		return nil, fmt.Errorf("wire: reading the repository's go.mod: %w", err)
	}
	rootMod, err := modfile.Parse(rootModPath, rootData, nil)
	if err != nil {
		return nil, fmt.Errorf("wire: parsing %s: %w", rootModPath, err)
	}
	if rootMod.Module == nil || rootMod.Module.Mod.Path != ModulePath {
		return nil, fmt.Errorf("wire: %s does not declare module %s", rootModPath, ModulePath)
	}

	modPath := filepath.Join(modDir, "go.mod")
	data, err := os.ReadFile(modPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("wire: no go.mod in %s (run `!*mlkit-kernel wire` in a GoNB cell, which sets $%s): %w", modDir, TmpDirEnv, err)
		}
		return nil, fmt.Errorf("wire: reading %s: %w", modPath, err)
	}
	f, err := modfile.Parse(modPath, data, nil)
	if err != nil {
		return nil, fmt.Errorf("wire: parsing %s: %w", modPath, err)
	}
	if f.Module != nil && f.Module.Mod.Path == ModulePath {
		return nil, fmt.Errorf("wire: %s is the repository's own module, not a notebook module", modPath)
	}

	res := &WireResult{Root: root, GoMod: modPath}
	if rootMod.Go != nil && (f.Go == nil || version.Compare("go"+f.Go.Version, "go"+rootMod.Go.Version) < 0) {
		if err := f.AddGoStmt(rootMod.Go.Version); err != nil {
			return nil, fmt.Errorf("wire: setting go %s in %s: %w", rootMod.Go.Version, modPath, err)
		}
	}
	if err := f.AddRequire(ModulePath, PseudoVersion); err != nil {
		return nil, fmt.Errorf("wire: requiring %s in %s: %w", ModulePath, modPath, err)
	}
	if err := f.AddReplace(ModulePath, "", root, ""); err != nil {
		return nil, fmt.Errorf("wire: replacing %s => %s in %s: %w", ModulePath, root, modPath, err)
	}
	for _, r := range rootMod.Require {
		if err := f.AddRequire(r.Mod.Path, r.Mod.Version); err != nil {
			return nil, fmt.Errorf("wire: requiring %s@%s in %s: %w", r.Mod.Path, r.Mod.Version, modPath, err)
		}
		res.Pinned++
		if r.Mod.Path == "github.com/gomlx/gomlx" {
			res.GoMLXVersion = r.Mod.Version
		}
	}
	for _, r := range rootMod.Replace {
		newPath := r.New.Path
		if r.New.Version == "" && !filepath.IsAbs(newPath) {
			newPath = filepath.Join(root, newPath)
		}
		if err := f.AddReplace(r.Old.Path, r.Old.Version, newPath, r.New.Version); err != nil {
			return nil, fmt.Errorf("wire: copying replace %s in %s: %w", r.Old.Path, modPath, err)
		}
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return nil, fmt.Errorf("wire: formatting %s: %w", modPath, err)
	}
	if !bytes.Equal(out, data) {
		if err := os.WriteFile(modPath, out, 0o644); err != nil {
			return nil, fmt.Errorf("wire: writing %s: %w", modPath, err)
		}
		res.Changed = true
	}
	changed, err := mergeGoSum(filepath.Join(modDir, "go.sum"), filepath.Join(root, "go.sum"))
	if err != nil {
		return nil, err
	}
	res.Changed = res.Changed || changed
	return res, nil
}

// mergeGoSum adds every line of src missing from dst (sorted, as the go command writes go.sum).
func mergeGoSum(dst, src string) (bool, error) {
	srcData, err := os.ReadFile(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("wire: reading %s: %w", src, err)
	}
	dstData, err := os.ReadFile(dst)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("wire: reading %s: %w", dst, err)
	}
	seen := map[string]bool{}
	var lines []string
	for _, data := range [][]byte{dstData, srcData} {
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || seen[line] {
				continue
			}
			seen[line] = true
			lines = append(lines, line)
		}
	}
	sort.Strings(lines)
	out := []byte(strings.Join(lines, "\n") + "\n")
	if bytes.Equal(out, dstData) {
		return false, nil
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		return false, fmt.Errorf("wire: writing %s: %w", dst, err)
	}
	return true, nil
}

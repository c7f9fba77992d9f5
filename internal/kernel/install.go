package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Spec is the content of a Jupyter kernel.json (see
// https://jupyter-client.readthedocs.io/en/latest/kernels.html#kernel-specs).
type Spec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// ReadSpec reads the kernel.json of kernel Name under the Jupyter data directory dataDir.
func ReadSpec(dataDir string) (*Spec, error) {
	p := SpecPath(dataDir)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading kernel spec: %w", err)
	}
	var spec Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("parsing kernel spec %s: %w", p, err)
	}
	return &spec, nil
}

// SpecPath returns where kernel.json of kernel Name lives under the Jupyter data directory.
func SpecPath(dataDir string) string {
	return filepath.Join(dataDir, "kernels", Name, "kernel.json")
}

// UserDataDir returns the user's own Jupyter data directory: $JUPYTER_DATA_DIR, else what
// `jupyter --data-dir` says, else the platform default (~/.local/share/jupyter on Linux).
func UserDataDir() (string, error) {
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return d, nil
	}
	if out, err := exec.Command("jupyter", "--data-dir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			return d, nil
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's Jupyter data directory: %w", err)
	}
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Jupyter"), nil
	case "windows":
		return "", errors.New("finding the user's Jupyter data directory on Windows: set JUPYTER_DATA_DIR")
	default:
		return filepath.Join(home, ".local", "share", "jupyter"), nil
	}
}

// PrefixDataDir returns the Jupyter data directory of an installation prefix (a virtual environment, or
// /usr/local): <prefix>/share/jupyter, as `jupyter kernelspec install --prefix` uses.
func PrefixDataDir(prefix string) string { return filepath.Join(prefix, "share", "jupyter") }

// Installer installs GoNB and goimports, at the versions the repository's go.mod pins as tools, plus
// mlkit-kernel itself, into a bin directory, and writes the kernel spec "Go (mlkit)" into a Jupyter data
// directory. Create it with NewInstaller, set options, and call Done.
type Installer struct {
	root, binDir, dataDir string
	rawErrors, skipTools  bool
	log                   io.Writer
}

// NewInstaller starts an installation for the repository at root. Defaults: tools in DefaultBinDir(root),
// kernel spec in DefaultDataDir(root), raw text errors on, progress to os.Stderr.
func NewInstaller(root string) *Installer {
	return &Installer{
		root:      root,
		binDir:    DefaultBinDir(root),
		dataDir:   DefaultDataDir(root),
		rawErrors: true,
		log:       os.Stderr,
	}
}

// BinDir sets where gonb, goimports and mlkit-kernel are installed (default <root>/bin).
func (in *Installer) BinDir(dir string) *Installer { in.binDir = dir; return in }

// DataDir sets the Jupyter data directory the kernel spec is written under (into kernels/gomlkit).
func (in *Installer) DataDir(dir string) *Installer { in.dataDir = dir; return in }

// RawErrors sets whether GoNB reports errors as plain text (--raw_error) instead of HTML. Plain text suits
// headless runs and logs; JupyterLab users get nicer HTML errors without it. Default true.
func (in *Installer) RawErrors(raw bool) *Installer { in.rawErrors = raw; return in }

// SkipTools skips `go install tool` and the build of mlkit-kernel, only (re)writing the kernel spec. The
// tools must already be in the bin directory.
func (in *Installer) SkipTools(skip bool) *Installer { in.skipTools = skip; return in }

// Log sets where progress lines and the output of the go commands go (default os.Stderr).
func (in *Installer) Log(w io.Writer) *Installer { in.log = w; return in }

// Done runs the installation and returns the path of the kernel.json written.
func (in *Installer) Done() (string, error) {
	root, err := filepath.Abs(in.root)
	if err != nil {
		return "", fmt.Errorf("kernel install: resolving root %q: %w", in.root, err)
	}
	if err := CheckRoot(root); err != nil {
		return "", fmt.Errorf("kernel install: %w", err)
	}
	binDir, err := filepath.Abs(in.binDir)
	if err != nil {
		return "", fmt.Errorf("kernel install: resolving bin dir %q: %w", in.binDir, err)
	}
	dataDir, err := filepath.Abs(in.dataDir)
	if err != nil {
		return "", fmt.Errorf("kernel install: resolving Jupyter data dir %q: %w", in.dataDir, err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("kernel install: the go command is not on PATH: %w", err)
	}
	if !in.skipTools {
		if err := in.installTools(root, binDir); err != nil {
			return "", err
		}
	}
	for _, tool := range []string{"gonb", "goimports", "mlkit-kernel"} {
		if _, err := os.Stat(filepath.Join(binDir, tool)); err != nil {
			return "", fmt.Errorf("kernel install: %s missing from %s (install without SkipTools): %w", tool, binDir, err)
		}
	}
	goRoot, err := goEnv(root, "GOROOT")
	if err != nil {
		return "", err
	}
	spec := in.spec(root, binDir, goRootBin(goRoot, goBin))
	kernelDir := filepath.Dir(SpecPath(dataDir))
	if err := os.MkdirAll(kernelDir, 0o755); err != nil {
		return "", fmt.Errorf("kernel install: creating %s: %w", kernelDir, err)
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return "", fmt.Errorf("kernel install: encoding kernel.json: %w", err)
	}
	specPath := SpecPath(dataDir)
	if err := os.WriteFile(specPath, append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("kernel install: writing %s: %w", specPath, err)
	}
	in.copyLogo(root, kernelDir)
	fmt.Fprintf(in.log, "kernel %q (%s) installed: %s\n", DisplayName, Name, specPath)
	return specPath, nil
}

// spec builds the kernel.json content.
func (in *Installer) spec(root, binDir, goDir string) *Spec {
	argv := []string{filepath.Join(binDir, "gonb"), "--kernel", "{connection_file}"}
	if in.rawErrors {
		argv = append(argv, "--raw_error")
	}
	path := binDir
	if goDir != "" && goDir != binDir {
		path += string(os.PathListSeparator) + goDir
	}
	// Jupyter substitutes ${PATH} from the environment of the server that starts the kernel.
	path += string(os.PathListSeparator) + "${PATH}"
	env := map[string]string{
		"PATH":    path,
		RootEnv:   root,
		"GOFLAGS": "-mod=mod -buildvcs=false",
		// Never download another Go toolchain because a go directive asks for it.
		"GOTOOLCHAIN": "local",
	}
	// A kernel started from a desktop launcher lacks the shell's environment: keep an explicit proxy.
	for _, name := range []string{"GOPROXY", "GONOSUMDB", "GOPRIVATE"} {
		if v := os.Getenv(name); v != "" {
			env[name] = v
		}
	}
	return &Spec{
		Argv:          argv,
		DisplayName:   DisplayName,
		Language:      "go",
		InterruptMode: "message",
		Env:           env,
		Metadata:      map[string]any{"mlkit_root": root, "gonb_version": GoNBVersion},
	}
}

// installTools runs `go install tool` (every tool go.mod pins: gonb, goimports, staticcheck) and builds mlkit-kernel.
func (in *Installer) installTools(root, binDir string) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return fmt.Errorf("kernel install: creating %s: %w", binDir, err)
	}
	fmt.Fprintf(in.log, "installing gonb %s, goimports and staticcheck (tools pinned by %s) into %s\n", GoNBVersion, filepath.Join(root, "go.mod"), binDir)
	if err := in.goCmd(root, binDir, "install", "tool"); err != nil {
		return err
	}
	return in.goCmd(root, binDir, "build", "-o", filepath.Join(binDir, "mlkit-kernel"), "./cmd/mlkit-kernel")
}

func (in *Installer) goCmd(root, binDir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOBIN="+binDir, "GOTOOLCHAIN=local")
	cmd.Stdout = in.log
	cmd.Stderr = in.log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kernel install: `go %s` in %s: %w", strings.Join(args, " "), root, err)
	}
	return nil
}

// copyLogo copies GoNB's gopher logo next to kernel.json; a missing logo is not an error.
func (in *Installer) copyLogo(root, kernelDir string) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/janpfeifer/gonb")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return
	}
	logo, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "internal", "kernel", "Go_gopher_favicon.svg"))
	if err != nil {
		return
	}
	_ = os.WriteFile(filepath.Join(kernelDir, "logo-svg.svg"), logo, 0o644)
}

// goEnv returns `go env name` run in dir.
func goEnv(dir, name string) (string, error) {
	cmd := exec.Command("go", "env", name)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("`go env %s` in %s: %w: %s", name, dir, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// goRootBin returns the directory of the go command to put on the kernel's PATH.
func goRootBin(goRoot, goBin string) string {
	if goRoot != "" {
		if _, err := os.Stat(filepath.Join(goRoot, "bin", "go")); err == nil {
			return filepath.Join(goRoot, "bin")
		}
	}
	if abs, err := filepath.Abs(goBin); err == nil {
		return filepath.Dir(abs)
	}
	return ""
}

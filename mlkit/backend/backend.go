// Package backend decides, in one place, which GoMLX backend mlkit runs on: an explicit choice
// ($MLKIT_BACKEND, then $GOMLX_BACKEND), else XLA on CUDA when a GPU and its PJRT plugin are present, else
// XLA on the CPU when its plugin loads, else mlkit's own pure-Go backend "mlkitgo" (package
// mlkit/backend/purego), which can train CNNs. It never panics and never downloads anything.
package backend

import (
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers GoMLX's own pure-Go backend "go".
	"github.com/visionnb/visionnb/mlkit/backend/purego"
)

// EnvVar is mlkit's own backend override; GOMLX_BACKEND is honoured too (MLKIT_BACKEND wins).
const EnvVar = "MLKIT_BACKEND"

// PureGo is the configuration name of mlkit's pure-Go backend, the fallback when XLA is unavailable.
const PureGo = purego.BackendName

// Info says which backend was chosen and why.
type Info struct {
	// Name is the backend's configuration string, e.g. "xla:cpu" or "mlkitgo".
	Name string
	// Reason is one short line for the user: why this backend runs, and how to get XLA if it does not.
	Reason string
}

// String returns "name: reason".
func (i Info) String() string { return i.Name + ": " + i.Reason }

var (
	once     sync.Once
	shared   backends.Backend
	info     Info
	sharedEr error
)

// Default returns the process-wide backend, creating it on first use (see New for the selection).
func Default() (backends.Backend, Info, error) {
	once.Do(func() { shared, info, sharedEr = New() })
	return shared, info, sharedEr
}

// New selects and creates a backend:
//  1. $MLKIT_BACKEND, else $GOMLX_BACKEND, when set (any GoMLX configuration, e.g. "xla:cpu", "mlkitgo", "go");
//  2. else "xla:cuda" when an NVIDIA GPU and the CUDA PJRT plugin are present;
//  3. else "xla:cpu" when the CPU PJRT plugin loads (installed by install-xla-cpu.sh, i.e. `make setup`);
//  4. else the pure-Go backend "mlkitgo".
//
// It never panics and never downloads anything (go-xla's auto-install is disabled).
func New() (b backends.Backend, inf Info, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("backend: creating %q panicked: %v", inf.Name, r)
		}
	}()
	for _, env := range []string{EnvVar, backends.ConfigEnvVar} {
		if cfg := os.Getenv(env); cfg != "" {
			inf = Info{Name: cfg, Reason: fmt.Sprintf("chosen by $%s", env)}
			b, err = tryNew(cfg)
			if err != nil {
				return nil, inf, fmt.Errorf("backend %q (from $%s): %w", cfg, env, err)
			}
			return b, inf, nil
		}
	}

	var why string
	switch plugins := xlaPlugins(); {
	case !xlaBuilt:
		why = "this program was built without cgo, so without XLA (build with CGO_ENABLED=1 and run `make setup` to get it)"
	case len(plugins) == 0:
		why = "no XLA PJRT plugin installed (run `make setup`, or mlkit/backend/install-xla-cpu.sh, to install the CPU one)"
	default:
		var errs []string
		for _, plugin := range []string{"cuda", "cpu"} {
			if !slices.Contains(plugins, plugin) {
				continue
			}
			cfg := "xla:" + plugin
			xb, xerr := tryNew(cfg)
			if xerr == nil {
				return xb, Info{Name: cfg, Reason: fmt.Sprintf("XLA PJRT %s plugin found", plugin)}, nil
			}
			errs = append(errs, fmt.Sprintf("%s: %v", cfg, xerr))
		}
		if len(errs) == 0 {
			why = fmt.Sprintf("no usable XLA plugin among %v (run `make setup` to install the CPU one)", plugins)
		} else {
			why = fmt.Sprintf("XLA failed to start (%v)", errs)
		}
	}
	inf = Info{Name: PureGo, Reason: why + "; using mlkit's pure-Go backend (slower)"}
	b, err = tryNew(PureGo)
	if err != nil {
		return nil, inf, fmt.Errorf("backend: pure-Go backend %q: %w", PureGo, err)
	}
	return b, inf, nil
}

// Available lists the configurations New could pick on this machine, best first: "xla:cuda" and/or
// "xla:cpu" when their plugins are installed, then "mlkitgo" (always). It creates no backend.
func Available() []string {
	var out []string
	plugins := xlaPlugins()
	for _, plugin := range []string{"cuda", "cpu"} {
		if slices.Contains(plugins, plugin) {
			out = append(out, "xla:"+plugin)
		}
	}
	return append(out, PureGo)
}

// tryNew creates the backend for one configuration, turning panics (GoMLX panics on unknown names) into errors.
func tryNew(cfg string) (b backends.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return backends.NewWithConfig(cfg)
}

var (
	namedMu sync.Mutex
	named   = map[string]backends.Backend{}
)

// Named returns a process-wide backend for one configuration (e.g. "xla:cpu", "mlkitgo"), creating it on
// first use; the default backend is reused when it has that name. It never panics.
func Named(cfg string) (backends.Backend, error) {
	if b, inf, err := Default(); err == nil && inf.Name == cfg {
		return b, nil
	}
	namedMu.Lock()
	defer namedMu.Unlock()
	if b, ok := named[cfg]; ok {
		return b, nil
	}
	b, err := tryNew(cfg)
	if err != nil {
		return nil, fmt.Errorf("backend %q (available here: %v): %w", cfg, Available(), err)
	}
	named[cfg] = b
	return b, nil
}

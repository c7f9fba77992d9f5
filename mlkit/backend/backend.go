// Package backend decides, in one place, which GoMLX backend mlkit runs on: an explicit choice
// (MLKIT_BACKEND or GOMLX_BACKEND), else XLA when its PJRT plugin loads, else the pure-Go backend.
package backend

import (
	"fmt"
	"os"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/default" // registers "xla" (when built with cgo) and "go".
)

// EnvVar is mlkit's own backend override; GOMLX_BACKEND is honoured too (MLKIT_BACKEND wins).
const EnvVar = "MLKIT_BACKEND"

// Info says which backend was chosen and why.
type Info struct {
	// Name is the backend's configuration string, e.g. "xla:cpu" or "go".
	Name string
	// Reason is one short line for the user: why this backend runs, and how to get XLA if it does not.
	Reason string
}

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

// New selects and creates a backend: $MLKIT_BACKEND, else $GOMLX_BACKEND, else XLA on the best device
// whose plugin loads, else the pure-Go backend. It never panics and never downloads anything.
func New() (b backends.Backend, inf Info, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("backend: creating %q panicked: %v", inf.Name, r)
		}
	}()
	for _, env := range []string{EnvVar, backends.ConfigEnvVar} {
		if cfg := os.Getenv(env); cfg != "" {
			inf = Info{Name: cfg, Reason: fmt.Sprintf("chosen by $%s", env)}
			b, err = backends.NewWithConfig(cfg)
			if err != nil {
				return nil, inf, fmt.Errorf("backend %q (from $%s): %w", cfg, env, err)
			}
			return b, inf, nil
		}
	}
	// Never let go-xla download a plugin behind the user's back.
	if os.Getenv("GOPJRT_NOAUTOINSTALL") == "" {
		_ = os.Setenv("GOPJRT_NOAUTOINSTALL", "1")
	}
	if xb, xerr := tryNew("xla:cpu"); xerr == nil {
		return xb, Info{Name: "xla:cpu", Reason: "XLA PJRT CPU plugin found"}, nil
	} else {
		inf = Info{Name: "go", Reason: fmt.Sprintf("XLA unavailable (%v); using the pure-Go backend. Run `make setup` to install the XLA CPU plugin", xerr)}
	}
	b, err = backends.NewWithConfig("go")
	if err != nil {
		return nil, inf, fmt.Errorf("backend: pure-Go backend: %w", err)
	}
	return b, inf, nil
}

func tryNew(cfg string) (b backends.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return backends.NewWithConfig(cfg)
}

//go:build cgo && !noxla

package backend

import (
	"github.com/gomlx/gomlx/backends/xla"
)

// xlaBuilt says whether this binary includes the XLA backend (it needs cgo).
const xlaBuilt = true

func init() {
	// Never let go-xla download plugins at run time (it would reach for GitHub/PyPI behind the user's back,
	// and fail offline): `make setup` (install-xla-cpu.sh) installs the CPU plugin ahead of time.
	xla.EnableAutoInstall(false)
}

// xlaPlugins lists the PJRT plugins found (and loadable) in go-xla's search paths, best first
// ("cuda" is only listed when an NVIDIA GPU is present).
func xlaPlugins() []string {
	return xla.GetAvailablePlugins()
}

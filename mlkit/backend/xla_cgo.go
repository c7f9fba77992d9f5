//go:build cgo && !noxla

package backend

import (
	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends/xla"
)

// xlaBuilt says whether this binary includes the XLA backend (it needs cgo).
const xlaBuilt = true

func init() {
	// Never let go-xla download plugins at run time (it would reach for GitHub/PyPI behind the user's back,
	// and fail offline): `make setup` (install-xla-cpu.sh) installs the CPU plugin ahead of time.
	xla.EnableAutoInstall(false)
	// Keep compiled programs on disk (see CompileCacheEnvVar); go-xla v0.1.4 has no such cache, our copy in
	// third_party/go-xla adds it.
	pjrt.SetCompilationCacheDir(compileCacheDir(), 0)
}

// SetCompileCacheDir makes XLA keep compiled programs in dir from now on, in this process ("" turns the
// cache off); $MLKIT_XLA_CACHE sets it at start-up.
func SetCompileCacheDir(dir string) { pjrt.SetCompilationCacheDir(dir, 0) }

// CompileCacheDir returns the folder XLA's compiled programs are kept in ("" when the cache is off).
func CompileCacheDir() string { return pjrt.CompilationCacheDir() }

// GetCompileCacheStats returns what the compile cache did in this process.
func GetCompileCacheStats() CompileCacheStats {
	s := pjrt.GetCompilationCacheStats()
	return CompileCacheStats{Hits: s.Hits, Misses: s.Misses, Stored: s.Stored, Errors: s.Errors}
}

// xlaPlugins lists the PJRT plugins found (and loadable) in go-xla's search paths, best first
// ("cuda" is only listed when an NVIDIA GPU is present).
func xlaPlugins() []string {
	return xla.GetAvailablePlugins()
}

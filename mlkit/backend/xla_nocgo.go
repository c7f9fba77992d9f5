//go:build !cgo || noxla

package backend

// xlaBuilt says whether this binary includes the XLA backend (it needs cgo).
const xlaBuilt = false

// xlaPlugins returns nothing: this binary was built without cgo (or with -tags noxla), so no XLA.
func xlaPlugins() []string { return nil }

// SetCompileCacheDir does nothing: without XLA there is nothing to compile.
func SetCompileCacheDir(string) {}

// CompileCacheDir returns "": without XLA there is nothing to compile.
func CompileCacheDir() string { return "" }

// GetCompileCacheStats returns zeros: without XLA there is nothing to compile.
func GetCompileCacheStats() CompileCacheStats { return CompileCacheStats{} }

package backend

import (
	"os"
	"path/filepath"
	"strings"
)

// CompileCacheEnvVar names the folder where XLA keeps compiled programs between processes ("off" disables the
// cache). Unset, it is CompileCacheDefaultDir(). Every notebook cell is a new process: with the cache, a cell
// that builds a graph compiled before (re-running a cell, evaluating with the graph training compiled, the
// tests) loads it in about a second instead of compiling it again for 10-70 s.
const CompileCacheEnvVar = "MLKIT_XLA_CACHE"

// CompileCacheStats counts, for this process, the XLA programs loaded from the compile cache (Hits), compiled
// because it lacked them (Misses), written to it (Stored), and entries that could not be used (Errors: each
// one was compiled instead, and the entry replaced).
type CompileCacheStats struct {
	Hits, Misses, Stored, Errors int64
}

// CompileCacheDefaultDir is the compile cache's folder when $MLKIT_XLA_CACHE is unset: the user's cache folder
// (~/.cache/mlkit/xla on Linux), or "" when there is none.
func CompileCacheDefaultDir() string {
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		return ""
	}
	return filepath.Join(base, "mlkit", "xla")
}

// compileCacheDir resolves $MLKIT_XLA_CACHE: "" when disabled.
func compileCacheDir() string {
	v, set := os.LookupEnv(CompileCacheEnvVar)
	v = strings.TrimSpace(v)
	switch {
	case !set || v == "":
		return CompileCacheDefaultDir()
	case strings.EqualFold(v, "off") || v == "0" || strings.EqualFold(v, "false"):
		return ""
	default:
		return v
	}
}

// Package assets finds the data and weights the tutorial needs: a path the user gives, else the project's
// ../shared folder when it is there, else a download cache (see Fetch).
package assets

import (
	"os"
	"path/filepath"
)

// SharedEnv names the environment variable that overrides where the shared folder is.
const SharedEnv = "MLKIT_SHARED"

// SharedDir returns the shared data folder: $MLKIT_SHARED when set, else a folder named "shared" beside
// the repository root (found by walking up from the working directory to the go.mod that declares this
// module), else beside any parent of the working directory. The boolean is false when none exists.
func SharedDir() (string, bool) {
	if d := os.Getenv(SharedEnv); d != "" {
		if isDir(d) {
			return d, true
		}
		return d, false
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if c := filepath.Join(dir, "..", "shared"); isDir(filepath.Join(c, "data")) || isDir(filepath.Join(c, "models")) {
			abs, err := filepath.Abs(c)
			if err != nil {
				return c, true
			}
			return abs, true
		}
		if filepath.Dir(dir) == dir {
			return "", false
		}
	}
}

// SharedPath joins elem onto SharedDir; ok is false when the shared folder or the path is missing.
func SharedPath(elem ...string) (string, bool) {
	d, ok := SharedDir()
	if !ok {
		return "", false
	}
	p := filepath.Join(append([]string{d}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		return p, false
	}
	return p, true
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

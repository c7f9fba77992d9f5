package kernel

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// repoRoot is the repository root, relative to this package's directory (where go test runs).
const repoRoot = "../.."

// absRoot returns the repository root as an absolute path, failing the test when it does not hold the
// module's go.mod (the package moved without repoRoot following it).
func absRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRoot(root); err != nil {
		t.Fatalf("repoRoot %q is not the repository root: %v", repoRoot, err)
	}
	return root
}

func writeFile(p, content string) error { return os.WriteFile(p, []byte(content), 0o644) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

package kernel

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// kernelPathRE matches a repository path through a directory named kernel (internal/kernel/*.go,
// internal/kernel/apt-ensure.sh, cmd/mlkit-kernel/*.go), as the build files name them.
var kernelPathRE = regexp.MustCompile(`(?:[A-Za-z0-9_.*-]+/)*[A-Za-z0-9_.*-]*kernel/[A-Za-z0-9_.*-]*`)

// TestBuildFilesNameExistingKernelPaths checks that every path into a kernel directory that the build
// files name (the Makefile's rebuild rule for bin/mlkit-kernel, `bash .../apt-ensure.sh` in setup and CI,
// the Dockerfiles' comments, the README's layout) matches files in the repository, so that moving this
// package cannot leave `make setup`, CI or the rebuild rule pointing at a path that is gone.
func TestBuildFilesNameExistingKernelPaths(t *testing.T) {
	root := absRoot(t)
	files := []string{"Makefile", ".ci/run", "README.md"}
	docker, err := filepath.Glob(filepath.Join(root, "docker", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docker {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rel)
	}
	found := 0
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatalf("reading build file: %v", err)
		}
		for _, p := range kernelPathRE.FindAllString(string(data), -1) {
			found++
			matches, err := filepath.Glob(filepath.Join(root, p))
			if err != nil {
				t.Errorf("%s names %q: bad pattern: %v", f, p, err)
			} else if len(matches) == 0 {
				t.Errorf("%s names %q, which matches nothing in the repository", f, p)
			}
		}
	}
	if found == 0 {
		t.Fatal("no kernel path found in the build files: the pattern no longer matches how they name it")
	}
	// The Makefile must rebuild bin/mlkit-kernel when this package's sources change.
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(root, here)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, glob := range []string{rel + "/*.go", rel + "/*.py"} {
		if !regexp.MustCompile(`(?m)^\$\(MLKIT_KERNEL\):.*` + regexp.QuoteMeta(filepath.ToSlash(glob))).Match(mk) {
			t.Errorf("the Makefile's $(MLKIT_KERNEL) rule does not list %s among its prerequisites", glob)
		}
	}
}

package mlkit

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// vetScratch writes src as the main package of a scratch module in a temporary folder (requiring this
// project, replaced by the checkout, as an exported model's module is) and runs go vet on it, which
// type-checks every call against the current API.
func vetScratch(t *testing.T, name, src string) {
	t.Helper()
	root := longModuleTest(t)
	dir := t.TempDir()
	if err := writeExportModule(dir, name, root); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := offlineGo(dir, "vet", ".").CombinedOutput(); err != nil {
		t.Fatalf("%s does not build against the current API: %v\n%s\nsource:\n%s", name, err, out, numbered(src))
	}
}

// offlineGo is the go command run in dir with the module cache only (no network, no workspace).
func offlineGo(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	return cmd
}

// longModuleTest skips in -short mode (building scratch modules takes seconds) and returns the module
// root.
func longModuleTest(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds scratch modules; skipped in -short mode")
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func numbered(src string) string {
	lines := strings.Split(src, "\n")
	for i := range lines {
		lines[i] = fmt.Sprintf("%3d  %s", i+1, lines[i])
	}
	return strings.Join(lines, "\n")
}

// cellBody drops a notebook cell's kernel lines: "!..." shell commands and the "%%" that starts main.
func cellBody(src string) string {
	var keep []string
	for _, l := range strings.Split(src, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "!") || t == "%%" {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// stdImports returns the imports of the standard packages code uses and have does not import, as the
// kernel (GoNB runs goimports on every cell) adds them.
func stdImports(code, have string) []string {
	var out []string
	for _, path := range []string{"context", "fmt", "os", "path/filepath", "sort", "strings", "time"} {
		sel := path[strings.LastIndex(path, "/")+1:] + "."
		if regexp.MustCompile(`(^|[^\w.])`+regexp.QuoteMeta(sel)).MatchString(code) && !strings.Contains(have, `"`+path+`"`) {
			out = append(out, `"`+path+`"`)
		}
	}
	return out
}

// TestREADMECodeBuilds compiles the README's first Go block (a notebook cell) against the current API, so
// the first code a reader sees cannot rot.
func TestREADMECodeBuilds(t *testing.T) {
	root := longModuleTest(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```go block")
	}
	body := cellBody(string(m[1]))
	imports := append([]string{`"github.com/visionnb/visionnb/mlkit"`}, stdImports(body, "")...)
	src := "package main\n\nimport (\n\t" + strings.Join(imports, "\n\t") + "\n)\n\nfunc main() {\n" + body + "\n}\n"
	vetScratch(t, "readme", src)
}

// TestNotebookCellsBuild compiles every notebook the way the kernel runs it: the cells without "%%"
// declare (imports, functions, constants), each "%%" cell is a program body. Each body becomes one
// function of a scratch main package beside the declarations, and the package is vetted.
func TestNotebookCellsBuild(t *testing.T) {
	root := longModuleTest(t)
	nbs, err := filepath.Glob(filepath.Join(root, "notebooks", "*.ipynb"))
	if err != nil || len(nbs) == 0 {
		t.Fatalf("no notebooks found: %v", err)
	}
	importRE := regexp.MustCompile(`(?s)import \((.*?)\)\n|import ("[^"\n]+")\n`)
	for _, nb := range nbs {
		name := strings.TrimSuffix(filepath.Base(nb), ".ipynb")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(nb)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Cells []struct {
					Type   string   `json:"cell_type"`
					Source []string `json:"source"`
				} `json:"cells"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("%s is not valid JSON: %v", nb, err)
			}
			var imports, decls, bodies []string
			for _, c := range doc.Cells {
				if c.Type != "code" {
					continue
				}
				src := strings.Join(c.Source, "")
				decl, body, isMain := src, "", false
				if i := strings.Index(src, "%%"); i >= 0 && (i == 0 || src[i-1] == '\n') {
					decl, body, isMain = src[:i], src[i+2:], true
				}
				for _, m := range importRE.FindAllStringSubmatch(decl, -1) {
					imports = append(imports, m[1]+m[2])
				}
				decls = append(decls, cellBody(importRE.ReplaceAllString(decl, "")))
				if isMain {
					bodies = append(bodies, body)
				}
			}
			code := strings.Join(decls, "\n")
			for i, body := range bodies {
				code += fmt.Sprintf("\nfunc cell%d() {\n%s\n}\n", i, body)
			}
			imports = append(imports, stdImports(code, strings.Join(imports, "\n"))...)
			var b strings.Builder
			fmt.Fprintf(&b, "package main\n\nimport (\n%s\n)\n\n%s\n", strings.Join(imports, "\n"), code)
			b.WriteString("\nfunc main() {}\n")
			vetScratch(t, "notebook-"+name, b.String())
		})
	}
}

package view

import (
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/janpfeifer/gonb/gonbui"
)

// Renderable is anything view can show: every builder of this package implements it, and callers may
// implement it too (their values can then be put in a Row or Column).
type Renderable interface {
	// HTML returns a self-contained HTML fragment (no external resources; user strings escaped).
	HTML() string
	// PNG returns the renderable drawn as a PNG image.
	PNG() ([]byte, error)
}

// OutputDirEnv is the environment variable that sets the output directory used outside notebooks.
const OutputDirEnv = "MLKIT_VIEW_DIR"

// DefaultOutputDir is the output directory used outside notebooks when neither SetOutputDir nor
// $MLKIT_VIEW_DIR says otherwise.
const DefaultOutputDir = "mlkit-out"

var (
	outputMu   sync.Mutex
	outputDir  string
	fileSeq    atomic.Int64
	logWriter  io.Writer = os.Stderr
	forceFiles atomic.Bool
)

// SetOutputDir sets the directory where Show writes files when not running in a notebook.
// An empty dir restores the default ($MLKIT_VIEW_DIR, else ./mlkit-out).
func SetOutputDir(dir string) {
	outputMu.Lock()
	defer outputMu.Unlock()
	outputDir = dir
}

// OutputDir returns the directory where Show writes files when not running in a notebook.
func OutputDir() string {
	outputMu.Lock()
	defer outputMu.Unlock()
	if outputDir != "" {
		return outputDir
	}
	if d := os.Getenv(OutputDirEnv); d != "" {
		return d
	}
	return DefaultOutputDir
}

// SetLog sets where Show reports the paths of the files it writes (default os.Stderr); nil silences it.
func SetLog(w io.Writer) {
	outputMu.Lock()
	defer outputMu.Unlock()
	logWriter = w
}

// SetFileOutput forces file output even inside a notebook (true), or restores automatic detection.
func SetFileOutput(force bool) { forceFiles.Store(force) }

// InNotebook reports whether Show displays inline in a GoNB notebook (rather than writing files).
func InNotebook() bool { return isNotebook() && !forceFiles.Load() }

// The notebook display functions, replaced by tests to see what a notebook would receive.
var (
	isNotebook  = func() bool { return gonbui.IsNotebook }
	displayHTML = gonbui.DisplayHTML
	displayPNG  = gonbui.DisplayPNG
	displaySync = gonbui.Sync
)

// notebookPage remembers what the outputs this program already displayed carry. The outputs of one
// notebook page share one window, so the echarts library, once evaluated by one output, serves the
// charts of the next ones: Show sends it with the first interactive chart only. (GoNB runs a new
// program for every cell, so each cell's first chart carries it again; the library guards against
// being evaluated twice.)
var notebookPage struct {
	sync.Mutex
	rc renderCtx
}

// notebookHTML renders r for the current notebook page.
func notebookHTML(r Renderable) string {
	notebookPage.Lock()
	defer notebookPage.Unlock()
	return renderWith(r, &notebookPage.rc)
}

// pngPreferrer is implemented by renderables that are best shown as a PNG image (static charts).
type pngPreferrer interface{ prefersPNG() bool }

// titled is implemented by renderables that have a title, used to name output files.
type titled interface{ titleText() string }

// textShower is implemented by renderables that also print themselves on a terminal (tables).
type textShower interface{ Text() string }

// Show displays r: inline in a notebook (PNG for static charts, HTML otherwise, followed by
// gonbui.Sync so large outputs are not dropped), else written as a file into OutputDir(). It returns the
// path of the written file ("" in a notebook). In a notebook only the first interactive chart that a
// program shows carries the echarts library; the later ones use it from the page (each file written
// outside a notebook carries its own).
func Show(r Renderable) (string, error) {
	if r == nil {
		return "", fmt.Errorf("view.Show: nil renderable")
	}
	wantPNG := false
	if p, ok := r.(pngPreferrer); ok {
		wantPNG = p.prefersPNG()
	}
	if InNotebook() {
		if wantPNG {
			data, err := r.PNG()
			if err != nil {
				return "", fmt.Errorf("view.Show: rendering PNG: %w", err)
			}
			displayPNG(data)
		} else {
			displayHTML(notebookHTML(r))
		}
		displaySync()
		return "", nil
	}
	name := "output"
	if t, ok := r.(titled); ok && t.titleText() != "" {
		name = t.titleText()
	}
	ext := ".html"
	if wantPNG {
		ext = ".png"
	}
	dir := OutputDir()
	path := filepath.Join(dir, fmt.Sprintf("%03d-%s%s", fileSeq.Add(1), slug(name), ext))
	if err := Save(r, path); err != nil {
		return "", fmt.Errorf("view.Show: %w", err)
	}
	outputMu.Lock()
	w := logWriter
	outputMu.Unlock()
	if w != nil {
		if ts, ok := r.(textShower); ok {
			fmt.Fprintln(w, ts.Text())
		}
		fmt.Fprintf(w, "view: wrote %s\n", path)
	}
	return path, nil
}

// Save writes r to path, choosing the format by the extension: .png (PNG()), .html/.htm (a standalone
// HTML page around HTML()), and for renderables that have them, .md (Markdown()) and .txt (Text()).
// Missing parent directories are created.
func Save(r Renderable, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating output directory for %q: %w", path, err)
	}
	var data []byte
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		b, err := r.PNG()
		if err != nil {
			return fmt.Errorf("rendering PNG for %q: %w", path, err)
		}
		data = b
	case ".html", ".htm":
		title := ""
		if t, ok := r.(titled); ok {
			title = t.titleText()
		}
		data = []byte(Page(title, r.HTML()))
	case ".md":
		m, ok := r.(interface{ Markdown() string })
		if !ok {
			return fmt.Errorf("saving %q: %T has no Markdown rendering", path, r)
		}
		data = []byte(m.Markdown())
	case ".txt":
		t, ok := r.(textShower)
		if !ok {
			return fmt.Errorf("saving %q: %T has no text rendering", path, r)
		}
		data = []byte(t.Text())
	default:
		return fmt.Errorf("saving %q: unknown extension %q (want .png, .html, .md or .txt)", path, ext)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	return nil
}

// Page wraps an HTML fragment into a standalone UTF-8 HTML page with the given (escaped) title.
func Page(title, fragment string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>")
	if title == "" {
		title = "mlkit view"
	}
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title>\n</head>\n<body style=\"font-family:sans-serif;margin:16px\">\n")
	b.WriteString(fragment)
	b.WriteString("\n</body></html>\n")
	return b.String()
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// slug turns a title into a short, safe file-name part.
func slug(s string) string {
	s = slugRe.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 48 {
		s = strings.Trim(s[:48], "-")
	}
	if s == "" {
		s = "output"
	}
	return s
}

package mlkit

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/visionnb/visionnb/mlkit/internal/atomicfile"
	"github.com/visionnb/visionnb/mlkit/internal/csvsafe"
	"github.com/visionnb/visionnb/mlkit/train"
)

// ExportDataset writes the latest version of a dataset to dir in the ImageFolder layout most tools read
// (dir/train/<class>/<file>, dir/validation/..., dir/test/...) plus dir/dataset.csv (input id, sha256,
// split, label, file, original source; cells are neutralised against spreadsheet formula injection). Files are copies of the app's originals; names get the input id
// as prefix so two uploads with one name never collide. It returns the number of images written.
func (a *App) ExportDataset(dataset, dir string) (int, error) {
	_, members, err := a.versionMembers(dataset)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("mlkit: export: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "dataset.csv"))
	if err != nil {
		return 0, fmt.Errorf("mlkit: export: %w", err)
	}
	defer f.Close()
	cw := csvsafe.NewWriter(f) // labels, file names and sources come from users: no formulas
	if err := cw.Write([]string{"input_id", "sha256", "split", "label", "file", "source"}); err != nil {
		return 0, fmt.Errorf("mlkit: export: writing dataset.csv: %w", err)
	}
	n := 0
	for _, m := range members {
		if m.Concept == "" {
			continue
		}
		in, err := a.st.Input(bgCtx(), m.InputID)
		if err != nil {
			return n, err
		}
		rel := filepath.Join(string(m.Split), safeName(m.Concept), fmt.Sprintf("%d_%s", in.ID, safeName(in.FileName)))
		if err := atomicfile.CopyFile(a.st.BlobPath(in.SHA256), filepath.Join(dir, rel)); err != nil {
			return n, fmt.Errorf("mlkit: export input %d: %w", in.ID, err)
		}
		if err := cw.Write([]string{fmt.Sprint(in.ID), in.SHA256, string(m.Split), m.Concept, filepath.ToSlash(rel), in.Source}); err != nil {
			return n, err
		}
		n++
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, err
	}
	return n, f.Close()
}

// safeName keeps a file or class name usable as one path element on every OS.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == 0 || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		return "_"
	}
	return s
}

// exampleProgram is the small Go program written next to an exported model (its source is compiled
// with the rest of the repository, so it cannot rot).
//
//go:embed examples/predict/main.go
var exampleProgram string

// ModelStatusDone is the status of a model whose training finished (store.Model.Status).
const ModelStatusDone = "done"

// ExportModel copies a finished model (checkpoint, config, history, model card) to dir and makes dir a
// standalone Go module that predicts with it: dir/predict/main.go (a small program that loads the model
// and classifies image files), dir/go.mod and dir/go.sum. Run it from dir:
//
//	cd DIR && go run ./predict . IMAGE...
//
// go.mod requires github.com/visionnb/visionnb, replaced by this repository's module root on this machine
// (see [ModuleRoot]), and pins every other requirement to this project's versions, with its go.sum, so the
// build uses the same code as the app did. A model whose training did not finish (status other than
// "done") is refused.
func (a *App) ExportModel(model, dir string) error {
	m, err := a.LoadModel(model)
	if err != nil {
		return err
	}
	if m.Status != ModelStatusDone {
		return fmt.Errorf("mlkit: model %q is not finished (status %q): only a model trained to the end can be exported; train it again with app.Train(%q)...Run()", model, m.Status, model)
	}
	root, err := ModuleRoot()
	if err != nil {
		return fmt.Errorf("mlkit: exporting model %q: %w", model, err)
	}
	src := filepath.Join(a.Dir(), m.Dir)
	err = filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == train.RecordedFile {
			return nil // the app's record of its own training images: not part of the model handed on
		}
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		return atomicfile.CopyFile(p, filepath.Join(dir, rel))
	})
	if err != nil {
		return fmt.Errorf("mlkit: exporting model %q: %w", model, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "predict"), 0o755); err != nil {
		return fmt.Errorf("mlkit: exporting model %q: %w", model, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "predict", "main.go"), []byte(exampleProgram), 0o644); err != nil {
		return fmt.Errorf("mlkit: exporting model %q: %w", model, err)
	}
	if err := writeExportModule(dir, model, root); err != nil {
		return fmt.Errorf("mlkit: exporting model %q: %w", model, err)
	}
	return nil
}

func bgCtx() context.Context { return context.Background() }

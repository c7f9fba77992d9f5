// Package mlkit is the notebook's entry point: open an app (a project folder with your images, labels and
// datasets) and walk the tutorial's steps, one file of this package each:
//
//	app.go       Create, Open, Close; Stats
//	upload.go    app.Upload()...Run(ctx), app.UploadTutorialData
//	label.go     app.Label, Relabel, Unlabel, History; listing inputs and concepts
//	search.go    app.Search(embedder).Like(ids...).Run(): text and visual search, selections to label
//	suggest.go   app.SuggestFromLabels, app.SuggestZeroShot: proposed labels to review and accept
//	split.go     app.Split(dataset, spec): frozen train/validation/test versions
//	embed.go     app.Embed(embedder): cached embeddings
//	train.go     app.Train(name)...Run()
//	evaluate.go  app.Evaluate(model, dataset, split)
//	compare.go   app.Compare and app.Select (on validation)
//	test.go      app.Test(dataset): the one-time test rule and its history
//	checks.go    app.LabelErrors (confident learning), app.Leakage
//	duplicates.go perceptual hashes of the thumbnails, for app.Leakage
//	predict.go   app.Predictor(model), LoadPredictor(dir): predictions on new images
//	export.go    app.ExportModel, app.ExportDataset
//
// For example:
//
//	app := mlkit.Must(mlkit.Create("animals"))     // ~/mlkit/apps/animals, created when missing
//	defer app.Close()
//	rep := mlkit.Must(app.Upload().Folder("photos").LabelsFromFolders().Run(ctx))
//	mlkit.Check(rep.Show())
//	mlkit.Must(app.Split("animals", mlkit.Counts(500, 100, 100).WithSeed(42)))
//	mlkit.Check(mlkit.Must(app.Stats()).Show())
//
// Conventions, the same in every step:
//   - Arguments come in the order (model, dataset, split): the embedder or trained model first, then the
//     dataset, then the split (typed Split: SplitTrain, SplitValidation, SplitTest, or "train", ...).
//   - Steps with many knobs are fluent builders ending in Run: Upload, Search and Train. Every other step
//     takes its few optional settings as functional options (EvalOption, EmbedOption, SuggestOption,
//     LeakageOption, LabelErrorOption), so a call without options means the documented defaults; there
//     are no zero-means-default arguments.
//   - Every result has Show(), displaying it inline in a notebook (or writing a file outside one), and
//     keeps its data in exported fields: rep.Show(), issues.Show(), leakage.Show(), eval.Show(); paged
//     results add ShowPage(n).
//   - Must and Check stop a notebook cell with the error printed, for cells that have nothing better to
//     do with one.
//
// The facade only composes the lower packages: store (files and database), ingest (uploads), dataset
// (labels and versions), embed, search, train, eval and view. Use App.Store() to reach them directly.
package mlkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/visionnb/visionnb/mlkit/dataset"
	"github.com/visionnb/visionnb/mlkit/names"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// HomeEnv names the environment variable that sets where apps opened by name live: $MLKIT_HOME/<name>.
const HomeEnv = "MLKIT_HOME"

// App is an open project: its images, labels and datasets.
type App struct {
	// Name is the app's folder name.
	Name string
	st   *store.Store
}

// AppsDir returns where apps opened by name live: $MLKIT_HOME, else ~/mlkit/apps.
func AppsDir() (string, error) {
	if d := os.Getenv(HomeEnv); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("mlkit: finding the home folder for apps (set $%s): %w", HomeEnv, err)
	}
	return filepath.Join(home, "mlkit", "apps"), nil
}

// ResolveDir returns the folder of the app nameOrDir: a bare name ("animals") is a folder under AppsDir;
// anything with a path separator or starting with "." or "~" is a path, used as is.
func ResolveDir(nameOrDir string) (string, error) {
	n := strings.TrimSpace(nameOrDir)
	if n == "" {
		return "", fmt.Errorf("mlkit: app name is empty")
	}
	if strings.HasPrefix(n, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("mlkit: expanding %q: %w", n, err)
		}
		return filepath.Join(home, n[2:]), nil
	}
	if !isBareName(n) {
		return n, nil
	}
	apps, err := AppsDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(apps, n), nil
}

// ErrNoApp is wrapped (through *NoAppError) when Open finds no app.
var ErrNoApp = errors.New("no such app")

// NoAppError says that Open found no app called Name in Dir.
type NoAppError struct {
	Name string // as given to Open
	Dir  string // the folder looked in
	// Occupied is true when Dir exists and holds other files: it cannot become an app either.
	Occupied bool
}

// Error says where Open looked and how to create the app.
func (e *NoAppError) Error() string {
	if e.Occupied {
		return fmt.Sprintf("mlkit: no app named %q (looked in %s, a folder of other files, not an app); give an app's name or folder, or mlkit.Create a new one", e.Name, e.Dir)
	}
	return fmt.Sprintf("mlkit: no app named %q (looked in %s); create it with mlkit.Create(%q)", e.Name, e.Dir, e.Name)
}

// Unwrap makes errors.Is(err, ErrNoApp) true.
func (e *NoAppError) Unwrap() error { return ErrNoApp }

// Open opens the existing app nameOrDir (see ResolveDir). A missing app is an error (*NoAppError,
// wrapping ErrNoApp) rather than a new empty app under a mistyped name: create apps with Create.
func Open(nameOrDir string) (*App, error) {
	dir, err := ResolveDir(nameOrDir)
	if err != nil {
		return nil, err
	}
	ok, err := store.IsApp(dir)
	if err != nil {
		return nil, fmt.Errorf("mlkit: opening app %q: %w", nameOrDir, err)
	}
	if !ok {
		entries, _ := os.ReadDir(dir)
		return nil, &NoAppError{Name: nameOrDir, Dir: dir, Occupied: len(entries) > 0}
	}
	return openStore(nameOrDir, dir)
}

// Create opens the app nameOrDir, creating it when missing: run it again and it opens the same app. A
// bare name must be a valid app name (letters, digits, '.', '_', '-'; see package names). A folder that
// exists with other files in it and is not an app (a photo folder given by mistake) is refused.
func Create(nameOrDir string) (*App, error) {
	dir, err := ResolveDir(nameOrDir)
	if err != nil {
		return nil, err
	}
	if isBareName(strings.TrimSpace(nameOrDir)) {
		if err := names.App(nameOrDir); err != nil {
			return nil, fmt.Errorf("mlkit: %w", err)
		}
	}
	return openStore(nameOrDir, dir)
}

func openStore(nameOrDir, dir string) (*App, error) {
	st, err := store.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("mlkit: opening app %q: %w", nameOrDir, err)
	}
	return &App{Name: filepath.Base(st.Dir()), st: st}, nil
}

// isBareName reports whether n names an app under AppsDir rather than giving a path.
func isBareName(n string) bool {
	return !strings.ContainsAny(n, `/\`) && !strings.HasPrefix(n, ".") && !filepath.IsAbs(n)
}

// Close closes the app's database.
func (a *App) Close() error { return a.st.Close() }

// Dir returns the app's folder.
func (a *App) Dir() string { return a.st.Dir() }

// Store returns the app's store, for the lower-level packages.
func (a *App) Store() *store.Store { return a.st }

// ClassStats are one class's counts.
type ClassStats struct {
	Concept                 string `json:"concept"`
	Inputs                  int    `json:"inputs"`
	Train, Validation, Test int
}

// Stats summarise an app: inputs, labels per class and, for the latest dataset version, the split counts.
type Stats struct {
	App        string       `json:"app"`
	Inputs     int          `json:"inputs"`
	Unlabelled int          `json:"unlabelled"`
	Classes    []ClassStats `json:"classes"`
	// Dataset and Version name the version the split columns come from ("" and 0 when there is none).
	Dataset string `json:"dataset,omitempty"`
	Version int    `json:"version,omitempty"`
}

// Stats counts inputs per class and, for the most recently created dataset version, per split.
func (a *App) Stats() (*Stats, error) { return a.StatsFor("") }

// StatsFor is Stats with the split counts from the latest version of dataset name ("" for the most recent
// version of any dataset). A dataset name that has no version is an error (wrapping store.ErrNotFound).
func (a *App) StatsFor(name string) (*Stats, error) {
	explicit := name != ""
	ctx := context.Background()
	s := &Stats{App: a.Name}
	var err error
	if s.Inputs, err = a.st.CountInputs(ctx); err != nil {
		return nil, err
	}
	unl, err := a.st.Inputs(ctx, store.InputFilter{Unlabelled: true})
	if err != nil {
		return nil, err
	}
	s.Unlabelled = len(unl)
	concepts, err := a.st.Concepts(ctx)
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for _, c := range concepts {
		idx[c.Name] = len(s.Classes)
		s.Classes = append(s.Classes, ClassStats{Concept: c.Name, Inputs: c.Inputs})
	}
	if name == "" {
		vs, err := a.st.Versions(ctx)
		if err != nil {
			return nil, err
		}
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].ID < vs[j].ID })
		if len(vs) > 0 {
			name = vs[len(vs)-1].Dataset
		}
	}
	if name != "" {
		v, err := dataset.OpenVersion(ctx, a.st, name, 0)
		if err != nil && (explicit || !errors.Is(err, store.ErrNotFound)) {
			return nil, fmt.Errorf("mlkit: stats of dataset %q: %w", name, err)
		}
		if v != nil {
			s.Dataset, s.Version = v.Dataset, v.Number
			for split, per := range v.Counts {
				for concept, n := range per {
					i, ok := idx[concept]
					if !ok { // members whose concept was deleted since
						i = len(s.Classes)
						idx[concept] = i
						s.Classes = append(s.Classes, ClassStats{Concept: concept})
					}
					cs := &s.Classes[i]
					switch split {
					case store.Train:
						cs.Train += n
					case store.Validation:
						cs.Validation += n
					case store.Test:
						cs.Test += n
					}
				}
			}
		}
	}
	return s, nil
}

// String renders the stats as a table, one row per class plus a total.
func (s *Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "app %s: %s, %d unlabelled", s.App, view.Count(s.Inputs, "input"), s.Unlabelled)
	if s.Dataset != "" {
		fmt.Fprintf(&b, "; dataset %s v%d", s.Dataset, s.Version)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tinputs\ttrain\tvalidation\ttest\t")
	var t ClassStats
	for _, c := range s.Classes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", c.Concept, c.Inputs, c.Train, c.Validation, c.Test)
		t.Inputs, t.Train, t.Validation, t.Test = t.Inputs+c.Inputs, t.Train+c.Train, t.Validation+c.Validation, t.Test+c.Test
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t\n", t.Inputs, t.Train, t.Validation, t.Test)
	_ = tw.Flush()
	return b.String()
}

// Show displays the stats as a table and a bar chart of inputs per class and split.
func (s *Stats) Show() error {
	title := fmt.Sprintf("%s: %s, %d unlabelled", s.App, view.Count(s.Inputs, "input"), s.Unlabelled)
	if s.Dataset != "" {
		title += fmt.Sprintf(" — dataset %s v%d", s.Dataset, s.Version)
	}
	t := view.Table("class", "inputs", "train", "validation", "test").Title(title)
	var tot ClassStats
	var cats []string
	var tr, va, te, all []float64
	for _, c := range s.Classes {
		t.Row(c.Concept, c.Inputs, c.Train, c.Validation, c.Test)
		tot.Inputs, tot.Train, tot.Validation, tot.Test = tot.Inputs+c.Inputs, tot.Train+c.Train, tot.Validation+c.Validation, tot.Test+c.Test
		cats = append(cats, c.Concept)
		tr, va, te, all = append(tr, float64(c.Train)), append(va, float64(c.Validation)), append(te, float64(c.Test)), append(all, float64(c.Inputs))
	}
	t.Row("total", tot.Inputs, tot.Train, tot.Validation, tot.Test).HighlightRow(len(s.Classes))
	b := view.Bars().Title("Images per class").Categories(cats...)
	if s.Dataset != "" {
		b.Group("train", tr...).Group("validation", va...).Group("test", te...)
	} else {
		b.Group("labelled", all...)
	}
	_, err := view.Show(view.Row(t, b.Size(520, 360)))
	return err
}

// Messages is where mlkit writes its short notices (e.g. the leakage check before a test evaluation):
// standard output by default, so they appear in the notebook; the CLI sends them to standard error to keep
// --json output clean.
var Messages io.Writer = os.Stdout

// checkExit and checkOutput are what Check stops with and writes to (tests replace them).
var (
	checkExit             = os.Exit
	checkOutput io.Writer = os.Stderr
)

// Check stops a notebook cell when a step failed: it prints "error: " and err to standard error and
// exits with status 1 (in a GoNB cell, the cell's program). A nil err does nothing. Use it, and Must, in
// notebook cells and small programs; library code returns its errors instead.
func Check(err error) {
	if err != nil {
		fmt.Fprintln(checkOutput, "error:", err)
		checkExit(1)
	}
}

// Must returns v when err is nil, and otherwise stops like Check:
//
//	app := mlkit.Must(mlkit.Open("animals"))
func Must[T any](v T, err error) T {
	Check(err)
	return v
}

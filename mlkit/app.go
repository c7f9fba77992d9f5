// Package mlkit is the notebook's entry point: open an app (a project folder with your images, labels and
// datasets), upload photos, label them, split them into train/validation/test, and look at the counts.
//
//	app, err := mlkit.Create("animals")            // ~/mlkit/apps/animals, created when missing
//	app, err = mlkit.Open("animals")               // later: open it (an error if it does not exist)
//	report, err := app.Upload().Folder("photos").LabelsFromFolders().Run(ctx)
//	fmt.Println(report.Summary())
//	v, err := app.Split("animals", mlkit.Counts(500, 100, 100).WithSeed(42))
//	stats, err := app.Stats()
//	fmt.Println(stats)
//
// The facade only composes the lower packages: store (files and database), ingest (uploads) and dataset
// (labels and versions). Use App.Store() to reach them directly.
package mlkit

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/visionnb/visionnb/mlkit/dataset"
	"github.com/visionnb/visionnb/mlkit/ingest"
	"github.com/visionnb/visionnb/mlkit/names"
	"github.com/visionnb/visionnb/mlkit/store"
)

// HomeEnv names the environment variable that sets where apps opened by name live: $MLKIT_HOME/<name>.
const HomeEnv = "MLKIT_HOME"

// Input is one uploaded image (see store.Input).
type Input = store.Input

// Concept is a class name with its number of labelled inputs (see store.Concept).
type Concept = store.Concept

// SplitSpec says how to split labelled inputs into train, validation and test (see dataset.SplitSpec).
type SplitSpec = dataset.SplitSpec

// Version is a frozen dataset version with its per-split, per-class counts (see dataset.Version).
type Version = dataset.Version

// Counts returns a split spec with these train, validation and test sizes, e.g. Counts(500, 100, 100).
func Counts(train, validation, test int) SplitSpec { return dataset.Counts(train, validation, test) }

// Fractions returns a split spec with these shares, e.g. Fractions(0.7, 0.15, 0.15).
func Fractions(train, validation, test float64) SplitSpec {
	return dataset.Fractions(train, validation, test)
}

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

// Upload starts an upload into this app; add sources and options, then Run:
//
//	report, err := app.Upload().Folder("photos").LabelsFromFolders().Run(ctx)
func (a *App) Upload() *ingest.Upload { return ingest.New(a.st) }

// Concepts lists the class names with how many inputs carry each.
func (a *App) Concepts() ([]Concept, error) { return dataset.Concepts(context.Background(), a.st) }

// CreateConcepts creates class names ahead of labelling; existing ones are kept.
func (a *App) CreateConcepts(names ...string) error {
	return dataset.CreateConcepts(context.Background(), a.st, names...)
}

// Label labels inputs with concept (created when missing) by hand, keeping their other labels. It returns
// how many labels were added.
func (a *App) Label(concept string, inputIDs ...int64) (int, error) {
	return dataset.Label(context.Background(), a.st, concept, inputIDs, dataset.Manual())
}

// LabelFromSearch labels inputs found by a text or visual search; query is recorded with each label.
func (a *App) LabelFromSearch(concept, query string, inputIDs ...int64) (int, error) {
	return dataset.Label(context.Background(), a.st, concept, inputIDs, dataset.FromSearch(query))
}

// Relabel fixes mislabels: concept becomes the only label of each input; the old labels stay in the history.
func (a *App) Relabel(concept string, inputIDs ...int64) (int, error) {
	return dataset.Relabel(context.Background(), a.st, concept, inputIDs, dataset.Manual())
}

// Unlabel removes concept from the inputs (every label when concept is ""); it stays in the history.
func (a *App) Unlabel(concept string, inputIDs ...int64) (int, error) {
	return dataset.Unlabel(context.Background(), a.st, concept, inputIDs)
}

// History lists every label an input has had, removed ones included, oldest first.
func (a *App) History(inputID int64) ([]store.Annotation, error) {
	return dataset.History(context.Background(), a.st, inputID)
}

// Inputs lists all inputs (ordered by id) with their labels.
func (a *App) Inputs() ([]Input, error) {
	return a.st.Inputs(context.Background(), store.InputFilter{})
}

// InputsLabelled lists the inputs labelled concept.
func (a *App) InputsLabelled(concept string) ([]Input, error) {
	return a.st.Inputs(context.Background(), store.InputFilter{Concept: concept})
}

// Unlabelled lists the inputs without any label.
func (a *App) Unlabelled() ([]Input, error) {
	return a.st.Inputs(context.Background(), store.InputFilter{Unlabelled: true})
}

// Remove hides inputs from the app (their labels and files are kept; uploading them again restores them).
func (a *App) Remove(inputIDs ...int64) (int, error) {
	return dataset.RemoveInputs(context.Background(), a.st, inputIDs, false)
}

// Image returns an input's picture, decoded and upright.
func (a *App) Image(in Input) (image.Image, error) { return ingest.LoadImage(a.st, in) }

// ThumbnailPath returns the path of an input's JPEG thumbnail (longest side 256 pixels).
func (a *App) ThumbnailPath(in Input) string { return a.st.ThumbPath(in.SHA256) }

// Split freezes a new version of the dataset called name: the labelled inputs split into train, validation
// and test per spec, stratified by class. Later versions keep every earlier member in its split and only
// assign new inputs (see dataset.CreateVersion). Running it again with the same spec on the same labelled
// inputs returns the latest version as is (Version.Reused), so a notebook re-runs without making new
// versions; a changed spec that only assigned new inputs prints its Version.Warning to Messages.
func (a *App) Split(name string, spec SplitSpec) (*Version, error) {
	v, err := dataset.CreateVersion(context.Background(), a.st, name, spec)
	if err == nil && v.Warning != "" {
		fmt.Fprintln(Messages, "⚠ "+v.Warning)
	}
	return v, err
}

// CreateDataset is Split under the name the tutorial uses for its first version.
func (a *App) CreateDataset(name string, spec SplitSpec) (*Version, error) {
	return a.Split(name, spec)
}

// Version returns version number of dataset name, 0 meaning the latest.
func (a *App) Version(name string, number int) (*Version, error) {
	return dataset.OpenVersion(context.Background(), a.st, name, number)
}

// Versions lists every dataset version, by dataset then number.
func (a *App) Versions() ([]store.Version, error) { return a.st.Versions(context.Background()) }

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
	fmt.Fprintf(&b, "app %s: %d inputs, %d unlabelled", s.App, s.Inputs, s.Unlabelled)
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

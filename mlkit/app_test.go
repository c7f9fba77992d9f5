package mlkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/internal/testshared"
	"github.com/visionnb/visionnb/mlkit/names"
	"github.com/visionnb/visionnb/mlkit/store"
)

func noisePNG(t *testing.T, seed int64) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	rand.New(rand.NewSource(seed)).Read(img.Pix)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestOpenResolvesNamesAndPaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv(HomeEnv, home)
	app, err := Create("animals")
	if err != nil {
		t.Fatal(err)
	}
	if app.Dir() != filepath.Join(home, "animals") || app.Name != "animals" {
		t.Errorf("bare name: dir %q name %q", app.Dir(), app.Name)
	}
	app.Close()
	if _, err := os.Stat(filepath.Join(home, "animals", store.DBFileName)); err != nil {
		t.Errorf("Create did not create the app: %v", err)
	}
	other := filepath.Join(t.TempDir(), "elsewhere")
	app2, err := Create(other)
	if err != nil {
		t.Fatal(err)
	}
	if app2.Dir() != other {
		t.Errorf("path: dir %q, want %q", app2.Dir(), other)
	}
	app2.Close()
	for _, n := range []string{"animals", other} {
		a, err := Open(n)
		if err != nil {
			t.Fatalf("Open(%q) of an existing app: %v", n, err)
		}
		a.Close()
	}
	if d, _ := ResolveDir("./rel"); d != "./rel" {
		t.Errorf("ResolveDir(./rel) = %q", d)
	}
	if _, err := Open("  "); err == nil {
		t.Errorf("empty name accepted")
	}
}

// TestOpenRefusesMissingApps: Open never creates (a typo must not give a new empty app), Create does
// (and opens an existing app again), and neither turns a folder of other files into an app.
func TestOpenRefusesMissingApps(t *testing.T) {
	home := t.TempDir()
	t.Setenv(HomeEnv, home)
	_, err := Open("animlas")
	var nae *NoAppError
	if !errors.As(err, &nae) || !errors.Is(err, ErrNoApp) {
		t.Fatalf("Open of a missing app: %v, want a *NoAppError", err)
	}
	want := fmt.Sprintf(`no app named "animlas" (looked in %s); create it with mlkit.Create("animlas")`, filepath.Join(home, "animlas"))
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q, want it to say %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(home, "animlas")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created the folder of a missing app: %v", err)
	}
	missingPath := filepath.Join(t.TempDir(), "nothere")
	if _, err := Open(missingPath); !errors.Is(err, ErrNoApp) {
		t.Fatalf("Open of a missing path: %v", err)
	}
	// A photo folder given by mistake: neither Open nor Create makes it an app.
	photos := t.TempDir()
	os.WriteFile(filepath.Join(photos, "1.png"), noisePNG(t, 1), 0o644)
	if _, err := Open(photos); !errors.Is(err, ErrNoApp) || !strings.Contains(err.Error(), "a folder of other files, not an app") {
		t.Fatalf("Open(photo folder): %v", err)
	}
	if _, err := Create(photos); !errors.Is(err, store.ErrNotApp) {
		t.Fatalf("Create(photo folder): %v, want store.ErrNotApp", err)
	}
	if ok, _ := store.IsApp(photos); ok {
		t.Fatal("Create made an app inside a photo folder")
	}
	// Bare names follow the app-name rule.
	for _, bad := range []string{"two words", "new\nline", strings.Repeat("a", 65)} {
		if _, err := Create(bad); !errors.Is(err, names.ErrInvalid) {
			t.Errorf("Create(%q): %v, want names.ErrInvalid", bad, err)
		}
	}
	// Create twice opens the same app.
	for i := 0; i < 2; i++ {
		a, err := Create("zoo")
		if err != nil {
			t.Fatalf("Create #%d: %v", i, err)
		}
		a.Close()
	}
}

func TestTutorialFlow(t *testing.T) {
	t.Setenv(HomeEnv, t.TempDir())
	photos := t.TempDir()
	for i := 0; i < 30; i++ {
		class := []string{"cat", "dog", "cow"}[i%3]
		p := filepath.Join(photos, class, fmt.Sprintf("%d.png", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, noisePNG(t, int64(i)), 0o644)
	}
	os.WriteFile(filepath.Join(photos, "cat", "notes.txt"), []byte("hello"), 0o644)
	app, err := Create("flow")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	rep, err := app.Upload().Folder(photos).LabelsFromFolders().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added) != 30 || len(rep.Rejected) != 1 {
		t.Fatalf("upload: %s", rep.Summary())
	}
	cs, _ := app.Concepts()
	if len(cs) != 3 || cs[0].Name != "cat" || cs[0].Inputs != 10 {
		t.Fatalf("concepts %+v", cs)
	}
	cats, _ := app.InputsLabelled("cat")
	// Fix a mislabel: the first "cat" is a dog.
	if n, err := app.Relabel("dog", cats[0].ID); err != nil || n != 1 {
		t.Fatalf("Relabel: %d %v", n, err)
	}
	hist, _ := app.History(cats[0].ID)
	if len(hist) != 2 || hist[0].Active() || hist[0].Concept != "cat" || !hist[1].Active() {
		t.Fatalf("history %+v", hist)
	}
	if n, err := app.Unlabel("", cats[1].ID); err != nil || n != 1 {
		t.Fatalf("Unlabel: %d %v", n, err)
	}
	unl, _ := app.Unlabelled()
	if len(unl) != 1 {
		t.Fatalf("unlabelled %d, want 1", len(unl))
	}
	img, err := app.Image(cats[0])
	if err != nil || img.Bounds().Dx() != 16 {
		t.Fatalf("Image: %v %v", img, err)
	}
	v, err := app.Split("pets", Counts(20, 5, 4).WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	if v.Total(store.Train) != 20 || v.Total(store.Validation) != 5 || v.Total(store.Test) != 4 {
		t.Fatalf("split counts %v", v.Counts)
	}
	s, err := app.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Inputs != 30 || s.Unlabelled != 1 || s.Dataset != "pets" || s.Version != 1 {
		t.Fatalf("stats %+v", s)
	}
	sum := 0
	for _, c := range s.Classes {
		sum += c.Train + c.Validation + c.Test
		if c.Concept == "dog" && c.Inputs != 11 {
			t.Errorf("dog has %d inputs, want 11", c.Inputs)
		}
	}
	if sum != 29 {
		t.Errorf("stats split total %d, want 29", sum)
	}
	if !strings.Contains(s.String(), "total") {
		t.Errorf("Stats.String lacks the total row:\n%s", s)
	}
	if _, err := os.Stat(app.ThumbnailPath(cats[0])); err != nil {
		t.Errorf("thumbnail: %v", err)
	}
}

// TestAnimals5 uploads the real photos of ../shared/data/animals5 with labels from folders and splits them.
func TestAnimals5(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 472 real photos")
	}
	dir := testshared.Animals5(t)
	app, err := Create(filepath.Join(t.TempDir(), "animals5"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	rep, err := app.Upload().Folder(dir).LabelsFromFolders().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("upload: %s in %v", rep.Summary(), rep.Duration)
	want := map[string]int{"butterfly": 100, "dog": 100, "elephant": 100, "horse": 81, "sheep": 91}
	if len(rep.Added) != 472 {
		t.Errorf("added %d photos, want 472; rejected %v", len(rep.Added), rep.Rejected)
	}
	for _, r := range rep.Rejected {
		if ext := filepath.Ext(r.Source); ext == ".jpg" || ext == ".jpeg" || ext == ".png" {
			t.Errorf("a photo was rejected: %v", r)
		}
	}
	for c, n := range want {
		if rep.Labels[c] != n {
			t.Errorf("%s: %d labels, want %d", c, rep.Labels[c], n)
		}
	}
	v, err := app.Split("animals5", Fractions(0.7, 0.15, 0.15).WithSeed(42))
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range store.Splits {
		for c, n := range want {
			ideal := map[store.Split]float64{store.Train: 0.7, store.Validation: 0.15, store.Test: 0.15}[split] * float64(n)
			if got := float64(v.Counts[split][c]); got < ideal-1.5 || got > ideal+1.5 {
				t.Errorf("%s/%s: %v, ideal %.1f", split, c, got, ideal)
			}
		}
	}
	s, _ := app.Stats()
	t.Logf("split:\n%s", s)
	if s.Inputs != 472 || s.Unlabelled != 0 {
		t.Errorf("stats %+v", s)
	}
}

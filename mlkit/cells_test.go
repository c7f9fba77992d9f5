package mlkit

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/view"
)

// showFiles runs show with view's file output in a fresh folder and returns the files it wrote, in order.
func showFiles(t *testing.T, show func() error) []string {
	t.Helper()
	dir := t.TempDir()
	view.SetOutputDir(dir)
	view.SetLog(nil)
	t.Cleanup(func() { view.SetOutputDir(""); view.SetLog(os.Stderr) })
	if err := show(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out
}

var cellLineRe = regexp.MustCompile(`<summary[^>]*>actual ([a-z]+), predicted ([a-z]+): (\d+) images?</summary>`)

// checkCells checks one drill-down page of an evaluation: the counts and the mean-probability matrices,
// and one line per non-empty cell whose count is the report's, with the cell's thumbnails.
func checkCells(t *testing.T, page string, e *Evaluation) {
	t.Helper()
	for _, want := range []string{e.Model + " — validation counts", e.Model + " — validation mean probability", "data:image/jpeg;base64,", "<details"} {
		if !strings.Contains(page, want) {
			t.Errorf("%s: the drill-down lacks %q", e.Model, want)
		}
	}
	lines := cellLineRe.FindAllStringSubmatch(page, -1)
	want := 0
	for _, row := range e.Report.Confusion {
		for _, n := range row {
			if n > 0 {
				want++
			}
		}
	}
	if len(lines) != want {
		t.Errorf("%s: %d cell lines, want one per non-empty cell (%d)", e.Model, len(lines), want)
	}
	for _, l := range lines {
		a, p := indexOf(e.Report.Classes, l[1]), indexOf(e.Report.Classes, l[2])
		n, _ := strconv.Atoi(l[3])
		if a < 0 || p < 0 || e.Report.Confusion[a][p] != n {
			t.Errorf("%s: line %q does not match the confusion matrix %v", e.Model, l[0], e.Report.Confusion)
		}
	}
}

// TestCompareShowsCountsAndConfidenceWithCells checks Comparison.Show: the table, then for every model
// its counts and mean-probability matrices side by side with the images behind each cell, then the bars;
// and Evaluation.Show's drill-down.
func TestCompareShowsCountsAndConfidenceWithCells(t *testing.T) {
	app := headApp(t, 15)
	for _, name := range []string{"a", "b"} {
		if _, err := app.Train(name).Head(fakeEmbedder).OnDataset("ds").Epochs(3).BatchSize(8).Quiet().Run(); err != nil {
			t.Fatal(err)
		}
	}
	cmp, err := app.Compare("ds", SplitValidation, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	files := showFiles(t, cmp.Show)
	if len(files) != 4 || !strings.HasSuffix(files[0], ".html") || !strings.HasSuffix(files[3], ".png") {
		t.Fatalf("Compare wrote %v, want the table, one drill-down per model and the bars", files)
	}
	for i, e := range cmp.Evaluations {
		page, err := os.ReadFile(files[1+i])
		if err != nil {
			t.Fatal(err)
		}
		checkCells(t, string(page), e)
	}
	files = showFiles(t, cmp.Evaluations[0].Show)
	if len(files) != 2 {
		t.Fatalf("Evaluation.Show wrote %v, want the concept table and the drill-down", files)
	}
	page, _ := os.ReadFile(files[1])
	checkCells(t, string(page), cmp.Evaluations[0])
}

// TestTopLossesOpenDetails checks that every top loss has a panel line naming it (file, actual and
// predicted with their probabilities, loss) in the gallery ShowTopLosses shows, ordered by loss.
func TestTopLossesOpenDetails(t *testing.T) {
	app := headApp(t, 15)
	if _, err := app.Train("a").Head(fakeEmbedder).OnDataset("ds").Epochs(3).BatchSize(8).Quiet().Run(); err != nil {
		t.Fatal(err)
	}
	e, err := app.Evaluate("a", "ds", SplitValidation)
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.TopLosses(4)
	if err != nil {
		t.Fatal(err)
	}
	page := g.HTML()
	lines := regexp.MustCompile(`<summary[^>]*>#(\d): #\d+ [^ ]+ — actual ([a-z]+) ([0-9.]+), predicted ([a-z]+) ([0-9.]+), loss ([0-9.]+)</summary>`).FindAllStringSubmatch(page, -1)
	if len(lines) != 4 {
		t.Fatalf("%d top-loss lines, want 4:\n%.1500s", len(lines), page)
	}
	last := 1e9
	for i, l := range lines {
		loss, _ := strconv.ParseFloat(l[6], 64)
		if l[1] != strconv.Itoa(i+1) || loss > last+0.005 {
			t.Errorf("line %d (%q) is out of order", i, l[0])
		}
		last = loss
	}
	files := showFiles(t, func() error { return e.ShowTopLosses(4) })
	if len(files) != 1 || !strings.HasSuffix(files[0], ".html") {
		t.Fatalf("ShowTopLosses wrote %v", files)
	}
	shown, _ := os.ReadFile(files[0])
	if n := strings.Count(string(shown), "<details"); n != 4 {
		t.Errorf("ShowTopLosses shows %d panels, want 4", n)
	}
}

package mlkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/visionnb/visionnb/mlkit/assets"
	"github.com/visionnb/visionnb/mlkit/ingest"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// DataEnv names the environment variable pointing the tutorial at your own photos: a folder with one
// sub-folder of images per class (horse/, dog/, ...), or a .zip of such folders.
const DataEnv = "MLKIT_DATA"

// TutorialData returns the photos the tutorial uses: $MLKIT_DATA when set, else the project's shared
// animals5 photos when ../shared is there. Without either it returns an error saying what to do.
func TutorialData() (string, error) {
	if d := os.Getenv(DataEnv); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", fmt.Errorf("mlkit: $%s=%q: %w (point it at a folder with one sub-folder of images per class, or a .zip of them)", DataEnv, d, err)
		}
		return d, nil
	}
	if p, ok := assets.SharedPath("data", "animals5"); ok {
		return p, nil
	}
	return "", fmt.Errorf("mlkit: no tutorial photos found: set $%s to a folder with one sub-folder of images per class "+
		"(e.g. photos/horse/*.jpg, photos/dog/*.jpg), or a .zip of such folders, e.g. `export %s=$HOME/photos`; "+
		"the project's shared/ folder (shared/data/animals5) is used automatically when it sits beside the repository", DataEnv, DataEnv)
}

// UploadTutorialData uploads TutorialData into the app (a folder or a .zip), taking labels from the
// sub-folder names when labels is true. Re-running it is harmless: already stored photos count as
// duplicates.
func (a *App) UploadTutorialData(labels bool) (*ingest.Report, error) {
	dir, err := TutorialData()
	if err != nil {
		return nil, err
	}
	up := a.Upload()
	if strings.EqualFold(filepath.Ext(dir), ".zip") {
		up = up.Zip(dir)
	} else {
		up = up.Folder(dir)
	}
	if labels {
		up = up.LabelsFromFolders()
	}
	return up.Run(context.Background())
}

// ShowUpload displays an upload report: the counts, labels applied, and every rejected file with its
// reason.
func ShowUpload(rep *ingest.Report) error {
	t := view.Table("", "count").Title("Upload report").Caption(rep.Summary())
	t.Row("added", len(rep.Added)).Row("duplicates skipped", len(rep.Duplicates)).Row("rejected", len(rep.Rejected))
	var names []string
	for n := range rep.Labels {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Row("labelled "+n, rep.Labels[n])
	}
	items := []view.Renderable{t}
	if len(rep.Rejected) > 0 {
		r := view.Table("file", "reason", "detail").Title("Rejected files (nothing else was affected)")
		for _, x := range rep.Rejected {
			r.Row(filepath.Base(x.Source), string(x.Reason), x.Message)
		}
		items = append(items, r)
	}
	_, err := view.Show(view.Row(items...))
	return err
}

// Show displays the stats as a table and a bar chart of inputs per class and split.
func (s *Stats) Show() error {
	title := fmt.Sprintf("%s: %d inputs, %d unlabelled", s.App, s.Inputs, s.Unlabelled)
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

// Gallery renders inputs with their file names and labels; pass captions-by-id to override.
func (a *App) Gallery(inputs []Input, title string) *view.GalleryView {
	labels, _ := a.st.ActiveLabels(context.Background())
	byID := map[int64][]string{}
	for _, l := range labels {
		byID[l.InputID] = append(byID[l.InputID], l.Concept)
	}
	g := view.Gallery().Title(title).Columns(8).PageSize(48).ThumbSize(112)
	for _, in := range inputs {
		g.Add(view.Item{ID: fmt.Sprint(in.ID), Image: a.st.ThumbPath(in.SHA256), Caption: in.FileName,
			Label: strings.Join(byID[in.ID], ",")})
	}
	return g
}

// ShowSplit displays up to n inputs of one split ("train", "validation", "test") of a dataset's latest
// version, n/classes per class so every class is visible.
func (a *App) ShowSplit(datasetName, split string, n int) error {
	ctx := context.Background()
	v, err := a.st.Version(ctx, datasetName, 0)
	if err != nil {
		return fmt.Errorf("mlkit: dataset %q: %w", datasetName, err)
	}
	members, err := a.st.Members(ctx, v.ID)
	if err != nil {
		return fmt.Errorf("mlkit: dataset %q: %w", datasetName, err)
	}
	per := map[string][]int64{}
	var classes []string
	for _, m := range members {
		if string(m.Split) != split {
			continue
		}
		if _, ok := per[m.Concept]; !ok {
			classes = append(classes, m.Concept)
		}
		per[m.Concept] = append(per[m.Concept], m.InputID)
	}
	if len(classes) == 0 {
		return fmt.Errorf("mlkit: dataset %q v%d has no %q split (splits are train, validation, test)", datasetName, v.Number, split)
	}
	sort.Strings(classes)
	each := max(1, n/len(classes))
	var ids []int64
	total := 0
	for _, c := range classes {
		total += len(per[c])
		ids = append(ids, per[c][:min(each, len(per[c]))]...)
	}
	inputs, err := a.st.Inputs(ctx, store.InputFilter{IDs: ids})
	if err != nil {
		return err
	}
	_, err = a.Gallery(inputs, fmt.Sprintf("%s v%d — %s: %d images (showing %d)", datasetName, v.Number, split, total, len(inputs))).Show()
	return err
}

// Messages is where mlkit writes its short notices (e.g. the leakage check before a test evaluation):
// standard output by default, so they appear in the notebook; the CLI sends them to standard error to keep
// --json output clean.
var Messages io.Writer = os.Stdout

package mlkit

import (
	"context"
	"fmt"
	"image"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/visionnb/visionnb/mlkit/assets"
	"github.com/visionnb/visionnb/mlkit/ingest"
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
func (a *App) UploadTutorialData(labels bool) (*UploadReport, error) {
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

// UploadBuilder collects an upload's sources and options; Run uploads. Start with App.Upload. It is the
// facade over ingest.Upload: each method does what its namesake there does.
type UploadBuilder struct{ u *ingest.Upload }

// Upload starts an upload into this app; add sources and options, then Run:
//
//	report, err := app.Upload().Folder("photos").LabelsFromFolders().Run(ctx)
func (a *App) Upload() *UploadBuilder { return &UploadBuilder{u: ingest.New(a.st)} }

// Folder adds every file under dir, recursively (see ingest.Upload.Folder).
func (b *UploadBuilder) Folder(dir string) *UploadBuilder { b.u.Folder(dir); return b }

// Files adds individual files.
func (b *UploadBuilder) Files(paths ...string) *UploadBuilder { b.u.Files(paths...); return b }

// Glob adds the files matching a pattern such as "photos/*.jpg".
func (b *UploadBuilder) Glob(pattern string) *UploadBuilder { b.u.Glob(pattern); return b }

// Zip adds the files inside a zip archive (see ingest.Upload.Zip for what is refused).
func (b *UploadBuilder) Zip(archive string) *UploadBuilder { b.u.Zip(archive); return b }

// URL adds images downloaded over HTTP(S).
func (b *UploadBuilder) URL(urls ...string) *UploadBuilder { b.u.URL(urls...); return b }

// LabelsFromFolders labels each file with the name of the folder it sits in (photos/horse/1.jpg: horse).
func (b *UploadBuilder) LabelsFromFolders() *UploadBuilder { b.u.LabelsFromFolders(); return b }

// Label labels every uploaded file with concept; it wins over LabelsFromFolders.
func (b *UploadBuilder) Label(concept string) *UploadBuilder { b.u.Label(concept); return b }

// MaxBytes sets the largest file accepted, in bytes.
func (b *UploadBuilder) MaxBytes(n int64) *UploadBuilder { b.u.MaxBytes(n); return b }

// MaxPixels sets the most pixels an image may claim in its header.
func (b *UploadBuilder) MaxPixels(n int64) *UploadBuilder { b.u.MaxPixels(n); return b }

// MaxArchiveBytes sets the most bytes read out of one zip archive.
func (b *UploadBuilder) MaxArchiveBytes(n int64) *UploadBuilder { b.u.MaxArchiveBytes(n); return b }

// MaxZipRatio sets the largest uncompressed/compressed ratio of a zip entry over 1 MiB.
func (b *UploadBuilder) MaxZipRatio(r float64) *UploadBuilder { b.u.MaxZipRatio(r); return b }

// HTTPClient sets the client used for URL sources.
func (b *UploadBuilder) HTTPClient(c *http.Client) *UploadBuilder { b.u.HTTPClient(c); return b }

// Timeout sets the per-request timeout of URL downloads.
func (b *UploadBuilder) Timeout(d time.Duration) *UploadBuilder { b.u.Timeout(d); return b }

// Workers sets how many files are read and decoded at once.
func (b *UploadBuilder) Workers(n int) *UploadBuilder { b.u.Workers(n); return b }

// OnProgress sets a function called (from one goroutine) after each file is done.
func (b *UploadBuilder) OnProgress(fn func(done, total int)) *UploadBuilder {
	b.u.OnProgress(fn)
	return b
}

// Run uploads every source and returns the report of what was added, skipped as a duplicate, rejected
// (with the reason) and labelled; on an error the report, when there is one, says what was done.
func (b *UploadBuilder) Run(ctx context.Context) (*UploadReport, error) {
	rep, err := b.u.Run(ctx)
	if rep == nil {
		return nil, err
	}
	return &UploadReport{Report: rep}, err
}

// UploadReport is what an upload did: an ingest.Report (its fields and methods), with Show.
type UploadReport struct {
	*ingest.Report
}

// Show displays the report: the counts, labels applied, and every rejected file with its reason.
func (rep *UploadReport) Show() error {
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

// Image returns an input's picture, decoded and upright.
func (a *App) Image(in Input) (image.Image, error) { return ingest.LoadImage(a.st, in) }

// ThumbnailPath returns the path of an input's JPEG thumbnail (longest side 256 pixels).
func (a *App) ThumbnailPath(in Input) string { return a.st.ThumbPath(in.SHA256) }

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

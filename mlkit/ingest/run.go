package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"sort"
	"sync"
	"time"

	"github.com/visionnb/visionnb/mlkit/names"
	"github.com/visionnb/visionnb/mlkit/store"
)

// Item is one uploaded (or duplicate) file.
type Item struct {
	Source   string `json:"source"`
	FileName string `json:"file_name"`
	InputID  int64  `json:"input_id"`
	SHA256   string `json:"sha256"`
	Label    string `json:"label,omitempty"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	Format   Format `json:"format,omitempty"`
	// DuplicateOf is, for a duplicate, the source of the same content earlier in this upload, or
	// "store" when it was already stored.
	DuplicateOf string `json:"duplicate_of,omitempty"`
}

// Rejection is one file that was not uploaded, and why.
type Rejection struct {
	Source  string `json:"source"`
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}

// Error formats the rejection as "source: reason: message" ("reason: message" without a source).
func (r Rejection) Error() string {
	if r.Source == "" {
		return fmt.Sprintf("%s: %s", r.Reason, r.Message)
	}
	return fmt.Sprintf("%s: %s: %s", r.Source, r.Reason, r.Message)
}

// Report says what an upload did.
type Report struct {
	Added      []Item      `json:"added"`
	Duplicates []Item      `json:"duplicates"`
	Rejected   []Rejection `json:"rejected"`
	// Labels counts the annotations written per concept (labels already present are not counted).
	Labels   map[string]int `json:"labels"`
	Duration time.Duration  `json:"duration_ns"`
}

// Summary is a one-line human summary, e.g. "472 added, 0 duplicates, 3 rejected; labels: dog 100, ...".
func (r *Report) Summary() string {
	s := fmt.Sprintf("%d added, %d duplicates, %d rejected", len(r.Added), len(r.Duplicates), len(r.Rejected))
	if len(r.Labels) > 0 {
		names := make([]string, 0, len(r.Labels))
		for n := range r.Labels {
			names = append(names, n)
		}
		sort.Strings(names)
		s += "; labels:"
		for i, n := range names {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf(" %s %d", n, r.Labels[n])
		}
	}
	return s
}

// RejectedBy returns the rejections with the given reason.
func (r *Report) RejectedBy(reason Reason) []Rejection {
	var out []Rejection
	for _, rj := range r.Rejected {
		if rj.Reason == reason {
			out = append(out, rj)
		}
	}
	return out
}

// result is what a worker found out about one candidate.
type result struct {
	c        candidate
	sha      string
	rej      *Rejection
	inStore  bool // content already stored and active: nothing written
	format   Format
	w, h     int
	size     int64
	orient   int
	resolved bool
}

// Run performs the upload and returns its report. Problems with single files are in the report, not
// in the error; the error is for the upload as a whole (a cancelled context, a database failure, bad options).
// On error the report still holds what was done.
func (u *Upload) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	rep := &Report{Labels: map[string]int{}}
	if u.err != nil {
		return rep, u.err
	}
	defer func() {
		for _, c := range u.closers {
			_ = c.Close()
		}
		u.closers = nil
	}()
	_ = u.st.CleanTemp(time.Hour)

	var cands []candidate
	for _, src := range u.sources {
		rej := src(ctx, func(c candidate) { cands = append(cands, c) })
		rep.Rejected = append(rep.Rejected, rej...)
	}

	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]result, len(cands))
	var done []chan struct{}
	for range cands {
		done = append(done, make(chan struct{}))
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < u.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = u.prepare(ctx, cands[i])
				close(done[i])
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range cands {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Commit in input order, so that reports are deterministic and the first copy of duplicated content wins.
	seen := map[string]string{} // sha -> source of first accepted copy
	var runErr error
	for i := range cands {
		select {
		case <-done[i]:
		case <-outer.Done():
			runErr = outer.Err()
		}
		if runErr != nil {
			break
		}
		if err := u.commit(ctx, &results[i], seen, rep); err != nil {
			runErr = err
			break
		}
		if u.progress != nil {
			u.progress(i+1, len(cands))
		}
	}
	cancel()
	wg.Wait()
	rep.Duration = time.Since(start)
	if runErr != nil {
		return rep, fmt.Errorf("ingest: upload stopped after %d of %d files: %w", len(rep.Added)+len(rep.Duplicates), len(cands), runErr)
	}
	return rep, nil
}

func (u *Upload) labelFor(c candidate) (string, store.AnnotationSource, string) {
	switch {
	case u.label != "":
		return u.label, store.SourceManual, "upload"
	case u.labelsFromDirs && c.label != "":
		return c.label, store.SourceFolder, c.label
	}
	return "", "", ""
}

// prepare reads, validates and stores the blob and thumbnail of one candidate (no database writes).
func (u *Upload) prepare(ctx context.Context, c candidate) (r result) {
	r.c = c
	r.resolved = true
	reject := func(reason Reason, format string, args ...any) result {
		r.rej = &Rejection{Source: c.source, Reason: reason, Message: fmt.Sprintf(format, args...)}
		return r
	}
	if label, src, _ := u.labelFor(c); src == store.SourceFolder {
		if err := names.Concept(label); err != nil {
			return reject(ReasonBadLabel, "folder %q does not give a label: %v", label, err)
		}
	}
	data, rj := c.open(ctx)
	if rj != nil {
		rj.Source = c.source
		r.rej = rj
		return r
	}
	r.size = int64(len(data))
	if len(data) == 0 {
		return reject(ReasonNotImage, "empty file")
	}
	r.sha = store.SHA256(data)
	if in, err := u.st.InputBySHA(ctx, r.sha); err == nil && !in.Removed && u.st.HasBlob(r.sha) {
		r.inStore = true
		return r
	}
	f, _, rj := u.limits().check(data)
	if rj != nil {
		rj.Source = c.source
		r.rej = rj
		return r
	}
	r.format = f
	img, err := decode(f, bytes.NewReader(data))
	if err != nil {
		return reject(ReasonCorrupt, "decoding %s: %v", f, err)
	}
	r.orient = 1
	if f == JPEG {
		r.orient = Orientation(data)
	}
	upright := Orient(img, r.orient)
	b := img.Bounds()
	r.w, r.h = orientedSize(b.Dx(), b.Dy(), r.orient)
	thumb, err := Thumbnail(upright)
	if err != nil {
		return reject(ReasonCorrupt, "%v", err)
	}
	// Blob and thumbnail first; the row comes later, in commit.
	if _, err := u.st.PutBlob(data); err != nil {
		return reject(ReasonUnreadable, "storing: %v", err)
	}
	if err := u.st.PutThumb(r.sha, thumb); err != nil {
		return reject(ReasonUnreadable, "storing thumbnail: %v", err)
	}
	return r
}

// commit writes one prepared result to the database, in one transaction, and records it in rep.
func (u *Upload) commit(ctx context.Context, r *result, seen map[string]string, rep *Report) error {
	if !r.resolved {
		return errors.New("file was not processed")
	}
	if r.rej != nil {
		rep.Rejected = append(rep.Rejected, *r.rej)
		return nil
	}
	label, src, detail := u.labelFor(r.c)
	item := Item{Source: r.c.source, FileName: r.c.fileName, SHA256: r.sha, Label: label, Width: r.w, Height: r.h, Format: r.format}
	dupOf, batchDup := seen[r.sha]
	labelled, added := false, false
	err := u.st.Tx(ctx, func(tx *store.Tx) error {
		added, labelled = false, false
		if batchDup || r.inStore {
			in, err := tx.InputBySHA(ctx, r.sha)
			if err != nil {
				return err
			}
			item.InputID, item.Width, item.Height, item.Format = in.ID, in.Width, in.Height, Format(in.Format)
		} else {
			id, a, err := tx.InsertInput(ctx, store.Input{SHA256: r.sha, FileName: r.c.fileName, Source: r.c.source,
				Width: r.w, Height: r.h, Format: string(r.format), Bytes: r.size, Orientation: r.orient})
			if err != nil {
				return err
			}
			item.InputID, added = id, a
			if !a {
				dupOf = "store"
			}
		}
		if label != "" {
			c, _, err := tx.EnsureConcept(ctx, label)
			if err != nil {
				return err
			}
			if labelled, err = tx.AddAnnotation(ctx, item.InputID, c.ID, src, detail); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording %s: %w", r.c.source, err)
	}
	if added {
		rep.Added = append(rep.Added, item)
	} else {
		if dupOf == "" {
			dupOf = "store"
		}
		item.DuplicateOf = dupOf
		rep.Duplicates = append(rep.Duplicates, item)
	}
	if labelled {
		rep.Labels[label]++
	}
	if _, ok := seen[r.sha]; !ok {
		seen[r.sha] = r.c.source
	}
	return nil
}

// LoadImage reads the blob of a stored input and decodes it upright (EXIF orientation applied), within
// [DefaultLimits] widened to the size recorded for the input (an upload may have accepted a larger image
// with MaxBytes or MaxPixels): a blob that was swapped or damaged after its upload is still checked before
// it is decoded.
func LoadImage(st *store.Store, in store.Input) (image.Image, error) {
	lim := DefaultLimits()
	lim.MaxBytes = max(lim.MaxBytes, in.Bytes)
	lim.MaxPixels = max(lim.MaxPixels, int64(in.Width)*int64(in.Height))
	img, _, err := lim.DecodeFile(st.BlobPath(in.SHA256))
	if err != nil {
		return nil, fmt.Errorf("ingest: input %d (%s): %w", in.ID, in.FileName, err)
	}
	return img, nil
}

// Package ingest uploads images into a store: from folders, file lists, globs, zip archives and URLs,
// optionally labelling them from folder names.
//
// Every file is checked by content, never by extension: it must sniff as JPEG, PNG, GIF (first frame),
// BMP or WebP, its header dimensions must be within the pixel limit (checked before decoding), and it must
// decode fully. Rejected files are reported with a [Reason]; one bad file never stops the others. The same
// checks, as a [Limits] value ([DefaultLimits] unless an upload sets others), guard every other path that
// decodes images (predictions, embeddings, training, evaluation, galleries): use [Decode], [Limits.Decode],
// [Limits.DecodeFile] or [LoadImage], never image.Decode.
//
// A Folder source reads nothing outside the folder's tree: symbolic links that resolve outside it are
// rejected ([ReasonOutsideFolder]) before they are opened.
//
// Orientation: the blob keeps the original bytes, untouched. The EXIF orientation of a JPEG is recorded
// in the input row (store.Input.Orientation), the recorded width and height are the displayed
// (oriented) ones, and the thumbnail is upright. Decode stored images with [Decode] or [LoadImage],
// which apply the orientation.
//
// Uploads are idempotent and resumable: content already in the store is reported as a duplicate (its
// label, if any, is still applied), the blob and thumbnail are written before the row that refers to
// them, and each file's row and labels are written in one transaction.
package ingest

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/visionnb/visionnb/mlkit/names"
	"github.com/visionnb/visionnb/mlkit/store"
)

// Reason says why a file was rejected.
type Reason string

// The reasons a file is rejected.
const (
	ReasonNotImage      Reason = "not_image"          // content is not a recognisable image
	ReasonUnsupported   Reason = "unsupported_format" // an image format we do not take (TIFF, SVG, HEIC, ...)
	ReasonCorrupt       Reason = "corrupt"            // truncated or damaged: the header or pixels fail to decode
	ReasonTooManyBytes  Reason = "too_many_bytes"     // larger than MaxBytes
	ReasonTooManyPixels Reason = "too_many_pixels"    // width×height larger than MaxPixels
	ReasonUnsafePath    Reason = "unsafe_path"        // a zip entry with an absolute path or ".." (zip slip)
	ReasonZipBomb       Reason = "zip_bomb"           // a zip whose uncompressed size or ratio exceeds the limits
	ReasonDownload      Reason = "download_failed"    // a URL that could not be fetched (HTTP error, timeout)
	ReasonUnreadable    Reason = "unreadable"         // a file or archive that could not be opened or read
	ReasonBadLabel      Reason = "bad_label"          // with LabelsFromFolders: the folder name is not a valid concept name
	ReasonOutsideFolder Reason = "outside_folder"     // a symbolic link in an uploaded folder that resolves outside it
)

// Defaults for the limits of an upload.
const (
	DefaultMaxBytes        = 50 << 20 // 50 MiB per image
	DefaultMaxPixels       = 64 << 20 // about 67 megapixels
	DefaultMaxArchiveBytes = 4 << 30  // 4 GiB uncompressed per zip
	DefaultMaxZipRatio     = 200      // uncompressed/compressed, for entries over 1 MiB
	DefaultTimeout         = 60 * time.Second
)

// Upload is a builder for one upload. Add sources, set options, then call Run.
type Upload struct {
	st              *store.Store
	sources         []func(ctx context.Context, add func(candidate)) []Rejection
	labelsFromDirs  bool
	label           string
	maxBytes        int64
	maxPixels       int64
	maxArchiveBytes int64
	maxZipRatio     float64
	client          *http.Client
	workers         int
	progress        func(done, total int)
	err             error
	closers         []io.Closer
}

// New starts an upload into st.
func New(st *store.Store) *Upload {
	return &Upload{
		st: st, maxBytes: DefaultMaxBytes, maxPixels: DefaultMaxPixels, maxArchiveBytes: DefaultMaxArchiveBytes,
		maxZipRatio: DefaultMaxZipRatio, client: &http.Client{Timeout: DefaultTimeout},
		workers: min(runtime.GOMAXPROCS(0), 4),
	}
}

// candidate is one file to upload, not yet read.
type candidate struct {
	source   string // full provenance: path, "zip:<archive>!<entry>", URL
	fileName string
	label    string // from the folder name, when asked
	open     func(ctx context.Context) ([]byte, *Rejection)
}

// Folder adds every file under dir, recursively (hidden files and folders are skipped). With
// LabelsFromFolders, a file's label is the name of the folder that holds it; files directly in dir get none.
//
// Nothing outside dir's tree is read: a symbolic link (to a file or a folder) is resolved before anything
// is opened, and one that resolves outside the tree is rejected with [ReasonOutsideFolder]; one inside is
// followed. Each real folder is walked once, where it is when it is in the tree (a link to a folder walked
// already adds nothing), so loops end. Named pipes, devices and sockets are rejected without being opened.
func (u *Upload) Folder(dir string) *Upload {
	u.sources = append(u.sources, func(ctx context.Context, add func(candidate)) []Rejection {
		root, err := filepath.Abs(dir)
		if err != nil {
			return []Rejection{{Source: dir, Reason: ReasonUnreadable, Message: err.Error()}}
		}
		realRoot, err := filepath.EvalSymlinks(root)
		if err != nil {
			return []Rejection{{Source: root, Reason: ReasonUnreadable, Message: err.Error()}}
		}
		w := &folderWalk{u: u, root: root, realRoot: realRoot, add: add, visited: map[string]bool{}}
		w.walk(realRoot, root)
		// Linked folders last, so a folder reached both directly and through a link is walked (and
		// labelled) where it really is.
		for len(w.pending) > 0 {
			next := w.pending[0]
			w.pending = w.pending[1:]
			if !w.visited[next[0]] {
				w.walk(next[0], next[1])
			}
		}
		return w.rej
	})
	return u
}

// folderWalk walks one Folder source: real (symlink-free) paths are walked, lexical paths (under the
// folder the user named) are reported.
type folderWalk struct {
	u              *Upload
	root, realRoot string
	add            func(candidate)
	visited        map[string]bool // real folders walked
	pending        [][2]string     // linked folders to walk: real path, lexical path
	rej            []Rejection
}

func (w *folderWalk) reject(src string, reason Reason, format string, args ...any) {
	w.rej = append(w.rej, Rejection{Source: src, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// walk adds the files under the real folder realDir, reported under the lexical folder lexDir.
func (w *folderWalk) walk(realDir, lexDir string) {
	err := filepath.WalkDir(realDir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(realDir, p)
		lex := filepath.Join(lexDir, rel)
		if err != nil {
			w.reject(lex, ReasonUnreadable, "%v", err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p != realDir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			if w.visited[p] {
				return fs.SkipDir
			}
			w.visited[p] = true
		case d.Type()&fs.ModeSymlink != 0:
			w.link(lex)
		case !d.Type().IsRegular():
			w.reject(lex, ReasonUnreadable, "not a regular file (%s)", d.Type())
		default:
			w.file(lex)
		}
		return nil
	})
	if err != nil {
		w.reject(lexDir, ReasonUnreadable, "%v", err)
	}
}

// link resolves a symbolic link found in the tree, without opening it: outside the tree it is rejected;
// inside, a folder is walked and a file added.
func (w *folderWalk) link(lex string) {
	target, err := w.resolve(lex)
	if err != nil {
		w.rej = append(w.rej, *err)
		return
	}
	st, serr := os.Stat(target)
	if serr != nil {
		w.reject(lex, ReasonUnreadable, "%v", serr)
		return
	}
	switch {
	case st.IsDir():
		w.pending = append(w.pending, [2]string{target, lex})
	case st.Mode().IsRegular():
		w.file(lex)
	default:
		w.reject(lex, ReasonUnreadable, "symbolic link to something that is not a regular file (%s)", st.Mode().Type())
	}
}

// resolve returns the real path of lex, or a rejection when it cannot be resolved or lies outside the tree.
func (w *folderWalk) resolve(lex string) (string, *Rejection) {
	target, err := filepath.EvalSymlinks(lex)
	if err != nil {
		return "", &Rejection{Source: lex, Reason: ReasonUnreadable, Message: fmt.Sprintf("resolving symbolic link: %v", err)}
	}
	if !within(w.realRoot, target) {
		return "", &Rejection{Source: lex, Reason: ReasonOutsideFolder,
			Message: fmt.Sprintf("symbolic link resolves to %s, outside the uploaded folder %s", target, w.root)}
	}
	return target, nil
}

// file adds the regular file (or link to one) at lex. It is resolved again when opened, so a link swapped
// in after the walk still cannot reach outside the tree.
func (w *folderWalk) file(lex string) {
	label := ""
	if parent := filepath.Dir(lex); parent != w.root {
		label = filepath.Base(parent)
	}
	w.add(candidate{source: lex, fileName: filepath.Base(lex), label: label, open: func(ctx context.Context) ([]byte, *Rejection) {
		target, rj := w.resolve(lex)
		if rj != nil {
			return nil, rj
		}
		return w.u.limits().readFile(target)
	}})
}

// within reports whether path p is root or lies under it (both clean and absolute).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Files adds the given files. With LabelsFromFolders, each file's label is the name of its folder.
func (u *Upload) Files(paths ...string) *Upload {
	u.sources = append(u.sources, func(ctx context.Context, add func(candidate)) []Rejection {
		for _, p := range paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				abs = p
			}
			add(u.fileCandidate(abs, filepath.Base(filepath.Dir(abs))))
		}
		return nil
	})
	return u
}

// Glob adds the files matching pattern (filepath.Match syntax, e.g. "photos/*/*.jpg"), in sorted order.
// With LabelsFromFolders, each file's label is the name of its folder.
func (u *Upload) Glob(pattern string) *Upload {
	u.sources = append(u.sources, func(ctx context.Context, add func(candidate)) []Rejection {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return []Rejection{{Source: pattern, Reason: ReasonUnreadable, Message: fmt.Sprintf("bad glob pattern: %v", err)}}
		}
		sort.Strings(matches)
		for _, p := range matches {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				continue
			}
			abs, _ := filepath.Abs(p)
			add(u.fileCandidate(abs, filepath.Base(filepath.Dir(abs))))
		}
		return nil
	})
	return u
}

func (u *Upload) fileCandidate(p, label string) candidate {
	return candidate{source: p, fileName: filepath.Base(p), label: label, open: func(ctx context.Context) ([]byte, *Rejection) {
		return u.limits().readFile(p)
	}}
}

// limits returns the upload's size limits.
func (u *Upload) limits() Limits { return Limits{MaxBytes: u.maxBytes, MaxPixels: u.maxPixels} }

func (u *Upload) readLimited(r io.Reader) ([]byte, *Rejection) { return u.limits().read(r) }

// Zip adds the files inside a zip archive. Entries with absolute paths or ".." are rejected (zip slip);
// the archive's total uncompressed size is limited by MaxArchiveBytes and each entry's compression ratio by
// MaxZipRatio (zip bombs); sizes are enforced while reading, not trusted from the headers. With
// LabelsFromFolders, an entry's label is the name of the folder that holds it inside the archive.
func (u *Upload) Zip(archive string) *Upload {
	u.sources = append(u.sources, func(ctx context.Context, add func(candidate)) []Rejection {
		abs, err := filepath.Abs(archive)
		if err != nil {
			abs = archive
		}
		zr, err := zip.OpenReader(abs)
		if errors.Is(err, zip.ErrInsecurePath) && zr != nil {
			err = nil // with GODEBUG=zipinsecurepath=0; unsafe entries are rejected one by one below
		}
		if err != nil {
			return []Rejection{{Source: abs, Reason: ReasonUnreadable, Message: fmt.Sprintf("opening zip archive: %v", err)}}
		}
		var rej []Rejection
		var mu sync.Mutex
		var total int64
		for _, f := range zr.File {
			src := "zip:" + abs + "!" + f.Name
			if f.FileInfo().IsDir() {
				continue
			}
			if r := unsafeEntry(f.Name); r != "" {
				rej = append(rej, Rejection{Source: src, Reason: ReasonUnsafePath, Message: r})
				continue
			}
			base := path.Base(f.Name)
			if strings.HasPrefix(base, ".") || strings.HasPrefix(f.Name, "__MACOSX/") {
				continue
			}
			label := ""
			if dir := path.Dir(f.Name); dir != "." && dir != "/" {
				label = path.Base(dir)
			}
			f := f
			add(candidate{source: src, fileName: base, label: label, open: func(ctx context.Context) ([]byte, *Rejection) {
				if f.UncompressedSize64 > uint64(u.maxBytes) {
					return nil, &Rejection{Reason: ReasonTooManyBytes, Message: fmt.Sprintf("entry declares %d bytes, limit %d", f.UncompressedSize64, u.maxBytes)}
				}
				rc, err := f.Open()
				if err != nil {
					return nil, &Rejection{Reason: ReasonUnreadable, Message: fmt.Sprintf("opening zip entry: %v", err)}
				}
				defer rc.Close()
				data, rj := u.readLimited(rc)
				if rj != nil {
					return nil, rj
				}
				n := int64(len(data))
				if n > 1<<20 && f.CompressedSize64 > 0 && float64(n)/float64(f.CompressedSize64) > u.maxZipRatio {
					return nil, &Rejection{Reason: ReasonZipBomb, Message: fmt.Sprintf("compression ratio %.0f exceeds %.0f", float64(n)/float64(f.CompressedSize64), u.maxZipRatio)}
				}
				mu.Lock()
				total += n
				over := total > u.maxArchiveBytes
				mu.Unlock()
				if over {
					return nil, &Rejection{Reason: ReasonZipBomb, Message: fmt.Sprintf("archive uncompresses to more than %d bytes", u.maxArchiveBytes)}
				}
				return data, nil
			}})
		}
		u.closers = append(u.closers, zr)
		return rej
	})
	return u
}

// unsafeEntry returns why a zip entry name is unsafe to use as a path, or "".
func unsafeEntry(name string) string {
	n := strings.ReplaceAll(name, `\`, "/")
	switch {
	case strings.HasPrefix(n, "/"):
		return "absolute path " + name
	case len(n) >= 2 && n[1] == ':':
		return "path with a drive letter " + name
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return "path escapes the archive with '..': " + name
		}
	}
	return ""
}

// URL adds images to download over http or https. Each is fetched with the upload's HTTP client (its
// timeout applies), must answer 200 and is size-limited while reading; its content is sniffed like any file.
func (u *Upload) URL(urls ...string) *Upload {
	u.sources = append(u.sources, func(ctx context.Context, add func(candidate)) []Rejection {
		var rej []Rejection
		for _, raw := range urls {
			pu, err := url.Parse(raw)
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				rej = append(rej, Rejection{Source: raw, Reason: ReasonDownload, Message: "not an http(s) URL"})
				continue
			}
			name := path.Base(pu.Path)
			if name == "." || name == "/" {
				name = pu.Host
			}
			raw := raw
			add(candidate{source: raw, fileName: name, open: func(ctx context.Context) ([]byte, *Rejection) {
				return u.fetch(ctx, raw)
			}})
		}
		return rej
	})
	return u
}

func (u *Upload) fetch(ctx context.Context, raw string) ([]byte, *Rejection) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, &Rejection{Reason: ReasonDownload, Message: err.Error()}
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, &Rejection{Reason: ReasonDownload, Message: err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &Rejection{Reason: ReasonDownload, Message: "HTTP " + resp.Status}
	}
	if resp.ContentLength > u.maxBytes {
		return nil, &Rejection{Reason: ReasonTooManyBytes, Message: fmt.Sprintf("Content-Length %d, limit %d", resp.ContentLength, u.maxBytes)}
	}
	data, rj := u.readLimited(resp.Body)
	if rj != nil && rj.Reason == ReasonUnreadable {
		rj.Reason = ReasonDownload
	}
	return data, rj
}

// LabelsFromFolders labels each file with the name of the folder that holds it (see each source).
func (u *Upload) LabelsFromFolders() *Upload { u.labelsFromDirs = true; return u }

// Label labels every uploaded file with concept (source "manual"); it wins over LabelsFromFolders.
func (u *Upload) Label(concept string) *Upload {
	u.label = strings.TrimSpace(concept)
	if err := names.Concept(u.label); err != nil && u.label != "" {
		u.err = fmt.Errorf("ingest: Label: %w", err)
	}
	return u
}

// MaxBytes sets the largest accepted file, in bytes.
func (u *Upload) MaxBytes(n int64) *Upload {
	if n <= 0 {
		u.err = fmt.Errorf("ingest: MaxBytes must be positive, got %d", n)
	}
	u.maxBytes = n
	return u
}

// MaxPixels sets the largest accepted width×height, checked on the header before decoding.
func (u *Upload) MaxPixels(n int64) *Upload {
	if n <= 0 {
		u.err = fmt.Errorf("ingest: MaxPixels must be positive, got %d", n)
	}
	u.maxPixels = n
	return u
}

// MaxArchiveBytes sets the largest total uncompressed size read from one zip archive.
func (u *Upload) MaxArchiveBytes(n int64) *Upload { u.maxArchiveBytes = n; return u }

// MaxZipRatio sets the largest uncompressed/compressed ratio of a zip entry over 1 MiB.
func (u *Upload) MaxZipRatio(r float64) *Upload { u.maxZipRatio = r; return u }

// HTTPClient sets the client used for URL sources (default: one with a 60 s timeout).
func (u *Upload) HTTPClient(c *http.Client) *Upload { u.client = c; return u }

// Timeout sets the per-request timeout of URL downloads.
func (u *Upload) Timeout(d time.Duration) *Upload {
	c := *u.client
	c.Timeout = d
	u.client = &c
	return u
}

// Workers sets how many files are read, validated and thumbnailed in parallel (default: CPUs, at most 4).
func (u *Upload) Workers(n int) *Upload { u.workers = max(n, 1); return u }

// OnProgress sets a function called (from one goroutine) after each file is done.
func (u *Upload) OnProgress(fn func(done, total int)) *Upload { u.progress = fn; return u }

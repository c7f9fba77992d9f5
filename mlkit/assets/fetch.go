package assets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/visionnb/visionnb/mlkit/internal/atomicfile"
)

// CacheEnv names the environment variable that overrides the download cache folder.
const CacheEnv = "MLKIT_CACHE"

// OfflineEnv, when set to a non-empty value other than "0", forbids network access: Fetch only returns
// files already in the cache.
const OfflineEnv = "MLKIT_OFFLINE"

// MobileNetV2TFJSURL is where Teachable Machine (@teachablemachine/image) loads its base model from: Keras
// MobileNetV2 alpha 0.35, 224 px, ImageNet, no top, in TF.js layers format. Replace "0.35" with 0.50, 0.75,
// 1.00 for other widths. Google publishes no checksums for these files, so FetchTFJSModel trusts them on
// first use and records their sha256 in the cache (later reads are verified against that record). The base
// weights are byte-identical to the 260 MobileNetV2 tensors of any Teachable Machine image export.
const MobileNetV2TFJSURL = "https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top/model.json"

// File is one file to download into the cache.
type File struct {
	// URL is where to download it from (http or https).
	URL string
	// SHA256 is the expected lowercase hex digest. Empty means trust on first use: the digest of the
	// first download is recorded beside the file ("<name>.sha256") and checked on every later use.
	SHA256 string
	// Name is the path inside the cache folder ("/"-separated, no ".."); empty means the URL's base name.
	Name string
}

// Bundle is a multi-file asset (e.g. a TF.js model.json and its weight shards) stored in one cache
// sub-folder, so the files can refer to each other by relative path.
type Bundle struct {
	// Name is the bundle's folder inside the cache, e.g. "mobilenet_v2_035_tfjs".
	Name string
	// Files are the bundle's files; their Name is relative to the bundle folder.
	Files []File
}

// ChecksumError reports a download whose sha256 does not match; the downloaded file has been removed.
type ChecksumError struct {
	Name, URL, Got, Want string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("assets: sha256 mismatch for %s downloaded from %s: got %s, want %s (the file was removed; "+
		"the server may serve a different version, or the expected checksum is outdated)", e.Name, e.URL, e.Got, e.Want)
}

// HTTPError reports a download the server refused (4xx or, after retries, 5xx).
type HTTPError struct {
	URL        string
	StatusCode int
	Status     string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("assets: downloading %s: server answered %s", e.URL, e.Status)
}

// Fetcher downloads files into a cache folder. Create it with NewFetcher and configure it with the fluent
// setters; the zero value is not usable. A Fetcher is safe for concurrent use.
type Fetcher struct {
	dir      string
	client   *http.Client
	retries  int
	backoff  time.Duration
	offline  bool
	progress func(name string, done, total int64)
}

// NewFetcher returns a Fetcher using CacheDir(), http.DefaultClient, 3 attempts per file with exponential
// backoff from 500 ms, and network access unless $MLKIT_OFFLINE is set.
func NewFetcher() *Fetcher {
	dir, _ := CacheDir()
	off := os.Getenv(OfflineEnv)
	return &Fetcher{dir: dir, client: http.DefaultClient, retries: 3, backoff: 500 * time.Millisecond,
		offline: off != "" && off != "0"}
}

// Dir sets the cache folder.
func (f *Fetcher) Dir(dir string) *Fetcher { f.dir = dir; return f }

// Client sets the HTTP client (timeouts, proxies, transports for tests).
func (f *Fetcher) Client(c *http.Client) *Fetcher { f.client = c; return f }

// Retries sets the number of attempts per file for network errors and 5xx/429 answers (at least 1).
func (f *Fetcher) Retries(n int) *Fetcher { f.retries = max(1, n); return f }

// Backoff sets the wait before the second attempt; it doubles on each further attempt.
func (f *Fetcher) Backoff(d time.Duration) *Fetcher { f.backoff = d; return f }

// Offline forbids (true) or allows (false) network access.
func (f *Fetcher) Offline(v bool) *Fetcher { f.offline = v; return f }

// Progress sets a callback called as bytes arrive (total is -1 when the server does not say).
func (f *Fetcher) Progress(fn func(name string, done, total int64)) *Fetcher {
	f.progress = fn
	return f
}

// CacheDir returns the download cache: $MLKIT_CACHE, else the user cache folder + "/mlkit"
// (~/.cache/mlkit on Linux).
func CacheDir() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("assets: no cache folder (set $%s): %w", CacheEnv, err)
	}
	return filepath.Join(base, "mlkit"), nil
}

// Fetch downloads file into the default cache (see NewFetcher) and returns its local path.
func Fetch(ctx context.Context, file File) (string, error) { return NewFetcher().Fetch(ctx, file) }

func cleanName(name, rawURL string) (string, error) {
	if name == "" {
		u, err := url.Parse(rawURL)
		if err != nil {
			return "", fmt.Errorf("assets: bad URL %q: %w", rawURL, err)
		}
		name = path.Base(u.Path)
	}
	clean := path.Clean(name)
	if clean == "." || clean == "/" || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("assets: file name %q must be a relative path inside the cache", name)
	}
	return filepath.FromSlash(clean), nil
}

// Fetch returns the local path of file in the cache, downloading it when it is missing or does not match
// its checksum. A cached file that matches (file.SHA256, or the digest recorded on first use) is returned
// without any network access. Downloads go to a temporary file renamed into place only once verified;
// interrupted transfers are resumed with HTTP Range requests on the next attempt.
func (f *Fetcher) Fetch(ctx context.Context, file File) (string, error) {
	if f.dir == "" {
		return "", fmt.Errorf("assets: no cache folder: set $%s", CacheEnv)
	}
	name, err := cleanName(file.Name, file.URL)
	if err != nil {
		return "", err
	}
	want := strings.ToLower(strings.TrimSpace(file.SHA256))
	dst := filepath.Join(f.dir, name)
	record := dst + ".sha256"

	// 1. Cached?
	if _, err := os.Stat(dst); err == nil {
		expect := want
		if expect == "" {
			if b, err := os.ReadFile(record); err == nil {
				expect = strings.TrimSpace(string(b))
			}
		}
		got, err := fileSHA256(dst)
		if err != nil {
			return "", fmt.Errorf("assets: reading cached %s: %w", dst, err)
		}
		switch {
		case expect == "":
			// Present but never recorded (e.g. copied in by hand): trust it now.
			if err := os.WriteFile(record, []byte(got+"\n"), 0o644); err != nil {
				return "", fmt.Errorf("assets: recording checksum of %s: %w", dst, err)
			}
			return dst, nil
		case got == expect:
			return dst, nil
		default:
			// Stale or corrupted: remove and download again.
			_ = os.Remove(dst)
			_ = os.Remove(record)
		}
	}

	// 2. Download.
	if f.offline {
		return "", fmt.Errorf("assets: %s is not in the cache %s and network access is off ($%s); download %s to %s by hand, or unset %s",
			name, f.dir, OfflineEnv, file.URL, dst, OfflineEnv)
	}
	// The download lands in a temporary file of its own and is renamed into the cache only once whole and
	// verified: an interrupted or corrupted transfer never leaves a file a later Fetch would trust.
	var got string
	err = atomicfile.Write(dst, atomicfile.Options{}, func(tmp *os.File) error {
		if err := f.download(ctx, file.URL, name, tmp); err != nil {
			return err
		}
		sum, err := fileSHA256(tmp.Name())
		if err != nil {
			return fmt.Errorf("assets: hashing download of %s: %w", name, err)
		}
		got = sum
		if want != "" && got != want {
			return &ChecksumError{Name: name, URL: file.URL, Got: got, Want: want}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(record, []byte(got+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("assets: recording checksum of %s: %w", dst, err)
	}
	return dst, nil
}

// download writes url's body into out, retrying and resuming from out's current size.
func (f *Fetcher) download(ctx context.Context, rawURL, name string, out *os.File) error {
	var lastErr error
	wait := f.backoff
	for attempt := range max(1, f.retries) {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("assets: downloading %s: %w (last error: %v)", rawURL, ctx.Err(), lastErr)
			case <-time.After(wait):
			}
			wait *= 2
		}
		retry, err := f.attempt(ctx, rawURL, name, out)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("assets: downloading %s failed after %d attempts: %w", rawURL, max(1, f.retries), lastErr)
}

// attempt does one GET (a Range request when out already holds bytes); retry says whether trying
// again can help.
func (f *Fetcher) attempt(ctx context.Context, rawURL, name string, out *os.File) (retry bool, err error) {
	have, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return false, fmt.Errorf("assets: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return false, fmt.Errorf("assets: bad URL %q: %w", rawURL, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("assets: downloading %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	total := resp.ContentLength
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if total >= 0 {
			total += have
		}
	case resp.StatusCode == http.StatusOK:
		// Full body: start over (the server ignored the Range header, or this is the first attempt).
		if err := out.Truncate(0); err != nil {
			return false, fmt.Errorf("assets: %w", err)
		}
		if _, err := out.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("assets: %w", err)
		}
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// Our partial file is already complete or the file changed: start over on the next attempt.
		_ = out.Truncate(0)
		return true, &HTTPError{URL: rawURL, StatusCode: resp.StatusCode, Status: resp.Status}
	default:
		retryable := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return retryable, &HTTPError{URL: rawURL, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	var w io.Writer = out
	if f.progress != nil {
		w = &progressWriter{w: out, name: name, done: have, total: total, fn: f.progress}
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return true, fmt.Errorf("assets: downloading %s (interrupted after %d bytes): %w", rawURL, have, err)
	}
	return false, nil
}

type progressWriter struct {
	w           io.Writer
	name        string
	done, total int64
	fn          func(string, int64, int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.fn(p.name, p.done, p.total)
	return n, err
}

func fileSHA256(p string) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FetchBundle fetches every file of b into the cache folder b.Name and returns that folder.
func (f *Fetcher) FetchBundle(ctx context.Context, b Bundle) (string, error) {
	if b.Name == "" {
		return "", errors.New("assets: bundle has no name")
	}
	if _, err := cleanName(b.Name, ""); err != nil {
		return "", err
	}
	for _, file := range b.Files {
		name, err := cleanName(file.Name, file.URL)
		if err != nil {
			return "", err
		}
		file.Name = path.Join(b.Name, filepath.ToSlash(name))
		if _, err := f.Fetch(ctx, file); err != nil {
			return "", fmt.Errorf("assets: bundle %s: %w", b.Name, err)
		}
	}
	return filepath.Join(f.dir, filepath.FromSlash(b.Name)), nil
}

// FetchTFJSModel fetches a TF.js model into the cache folder name: model.json from modelURL, then every
// weight shard its weightsManifest lists (relative to modelURL). sums optionally maps file names
// ("model.json", "group1-shard1of1.bin") to expected sha256 digests; files without one are trusted on
// first use. It returns the local folder, ready for tfjs.Load.
func (f *Fetcher) FetchTFJSModel(ctx context.Context, name, modelURL string, sums map[string]string) (string, error) {
	b := Bundle{Name: name, Files: []File{{URL: modelURL, Name: "model.json", SHA256: sums["model.json"]}}}
	dir, err := f.FetchBundle(ctx, b)
	if err != nil {
		return "", err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		return "", fmt.Errorf("assets: %w", err)
	}
	var manifest struct {
		WeightsManifest []struct {
			Paths []string `json:"paths"`
		} `json:"weightsManifest"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return "", fmt.Errorf("assets: %s from %s is not a TF.js model.json: %w", filepath.Join(dir, "model.json"), modelURL, err)
	}
	base, err := url.Parse(modelURL)
	if err != nil {
		return "", fmt.Errorf("assets: bad URL %q: %w", modelURL, err)
	}
	b.Files = nil
	for _, g := range manifest.WeightsManifest {
		for _, p := range g.Paths {
			ref, err := url.Parse(p)
			if err != nil {
				return "", fmt.Errorf("assets: bad shard path %q in %s: %w", p, modelURL, err)
			}
			b.Files = append(b.Files, File{URL: base.ResolveReference(ref).String(), Name: p, SHA256: sums[p]})
		}
	}
	if len(b.Files) == 0 {
		return "", fmt.Errorf("assets: %s lists no weight shards", modelURL)
	}
	return f.FetchBundle(ctx, b)
}

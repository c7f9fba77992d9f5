package assets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit/internal/atomicfile"
)

var payload = bytes.Repeat([]byte("mobilenet weights 0123456789\n"), 1000)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// server serves payload at /w.bin (with Range support), 404 elsewhere, and counts requests.
func server(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/w.bin", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.ServeContent(w, r, "w.bin", time.Time{}, bytes.NewReader(payload))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s, &n
}

func fetcher(t *testing.T) *Fetcher {
	return NewFetcher().Dir(t.TempDir()).Backoff(time.Millisecond).Offline(false)
}

func noPartials(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(filepath.Base(p), atomicfile.TempSuffix) {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestFetchSuccessThenCachedWithoutServer(t *testing.T) {
	s, count := server(t)
	f := fetcher(t)
	file := File{URL: s.URL + "/w.bin", SHA256: sum(payload), Name: "models/w.bin"}
	p, err := f.Fetch(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, payload) || p != filepath.Join(f.dir, "models", "w.bin") {
		t.Fatalf("fetched %d bytes at %s", len(got), p)
	}
	s.Close() // no network from now on.
	p2, err := f.Fetch(context.Background(), file)
	if err != nil || p2 != p {
		t.Fatalf("cached fetch with server stopped: %q, %v", p2, err)
	}
	if count.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", count.Load())
	}
	noPartials(t, f.dir)
}

func TestFetchChecksumMismatch(t *testing.T) {
	s, _ := server(t)
	f := fetcher(t)
	_, err := f.Fetch(context.Background(), File{URL: s.URL + "/w.bin", SHA256: strings.Repeat("0", 64)})
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Got != sum(payload) {
		t.Fatalf("err = %v, want a ChecksumError with the real digest", err)
	}
	if !strings.Contains(err.Error(), "removed") {
		t.Errorf("message does not say the file was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "w.bin")); !os.IsNotExist(err) {
		t.Errorf("mismatching file kept in the cache: %v", err)
	}
	noPartials(t, f.dir)
}

func TestFetch404NotRetried(t *testing.T) {
	s, _ := server(t)
	var hits atomic.Int32
	f := fetcher(t).Client(&http.Client{Transport: countingTransport{&hits}})
	_, err := f.Fetch(context.Background(), File{URL: s.URL + "/missing.bin"})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 404 || !strings.Contains(err.Error(), "/missing.bin") {
		t.Fatalf("err = %v, want HTTP 404 naming the URL", err)
	}
	if hits.Load() != 1 {
		t.Errorf("404 was requested %d times, want 1 (no retry)", hits.Load())
	}
	noPartials(t, f.dir)
}

type countingTransport struct{ n *atomic.Int32 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestFetchTrustOnFirstUse(t *testing.T) {
	s, _ := server(t)
	f := fetcher(t)
	file := File{URL: s.URL + "/w.bin"}
	p, err := f.Fetch(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile(p + ".sha256")
	if err != nil || strings.TrimSpace(string(rec)) != sum(payload) {
		t.Fatalf("recorded digest %q, %v", rec, err)
	}
	// Corrupt the cached copy: the next Fetch notices and downloads again.
	if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, payload) {
		t.Error("corrupted cache file was not replaced")
	}
}

func TestFetchRetriesAndResumes(t *testing.T) {
	var calls atomic.Int32
	var sawRange atomic.Bool
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1: // transient server error
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2: // cut the body half way
			w.Header().Set("Content-Length", "29000")
			_, _ = w.Write(payload[:10000])
			panic(http.ErrAbortHandler)
		default:
			if r.Header.Get("Range") == "bytes=10000-" {
				sawRange.Store(true)
			}
			http.ServeContent(w, r, "w.bin", time.Time{}, bytes.NewReader(payload))
		}
	}))
	defer s.Close()
	var last int64
	f := fetcher(t).Retries(4).Progress(func(_ string, done, total int64) { last = done })
	p, err := f.Fetch(context.Background(), File{URL: s.URL + "/w.bin", SHA256: sum(payload)})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, payload) {
		t.Fatal("resumed download is corrupt")
	}
	if !sawRange.Load() {
		t.Error("third attempt did not resume with a Range request")
	}
	if last != int64(len(payload)) {
		t.Errorf("progress ended at %d, want %d", last, len(payload))
	}
}

func TestFetchOfflineAndBadNames(t *testing.T) {
	f := fetcher(t).Offline(true)
	_, err := f.Fetch(context.Background(), File{URL: "http://example.invalid/x.bin"})
	if err == nil || !strings.Contains(err.Error(), OfflineEnv) {
		t.Errorf("offline err = %v", err)
	}
	if _, err := f.Fetch(context.Background(), File{URL: "http://x/y", Name: "../escape"}); err == nil {
		t.Error("a name escaping the cache was accepted")
	}
}

func TestFetchTFJSModelBundle(t *testing.T) {
	modelJSON := []byte(`{"format":"layers-model","modelTopology":{},"weightsManifest":[{"paths":["group1-shard1of2.bin","group1-shard2of2.bin"],"weights":[]}]}`)
	files := map[string][]byte{"/m/model.json": modelJSON, "/m/group1-shard1of2.bin": payload[:100], "/m/group1-shard2of2.bin": payload[100:200]}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	defer s.Close()
	f := fetcher(t)
	dir, err := f.FetchTFJSModel(context.Background(), "tiny_tfjs", s.URL+"/m/model.json",
		map[string]string{"group1-shard2of2.bin": sum(payload[100:200])})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"model.json": modelJSON, "group1-shard1of2.bin": payload[:100], "group1-shard2of2.bin": payload[100:200]} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A wrong checksum for one shard fails the bundle and names it.
	f2 := fetcher(t)
	_, err = f2.FetchTFJSModel(context.Background(), "tiny_tfjs", s.URL+"/m/model.json",
		map[string]string{"group1-shard1of2.bin": sum([]byte("other"))})
	if err == nil || !strings.Contains(err.Error(), "group1-shard1of2.bin") {
		t.Errorf("err = %v", err)
	}
}

func TestCacheDirEnv(t *testing.T) {
	t.Setenv(CacheEnv, "/tmp/some-cache")
	if d, err := CacheDir(); err != nil || d != "/tmp/some-cache" {
		t.Errorf("CacheDir = %q, %v", d, err)
	}
}

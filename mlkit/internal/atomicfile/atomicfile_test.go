package atomicfile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWritersLeaveOneWholeFile: many writers of one path, each write lands whole, no
// temporary file is left behind, and the folder is created.
func TestConcurrentWritersLeaveOneWholeFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	path := filepath.Join(dir, "x.json")
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				errs <- WriteJSON(path, map[string]int{"writer": w, "i": i})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := json.Unmarshal(raw, &got); err != nil || len(got) != 2 {
		t.Fatalf("file %q: %v", raw, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
}

// TestFailedFillLeavesOldContentAndNoTemporary: an error from fill keeps the old file as it was and
// removes the temporary file, in the destination folder and in a separate TempDir alike.
func TestFailedFillLeavesOldContentAndNoTemporary(t *testing.T) {
	for _, sep := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "f.bin")
		if err := WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		o := Options{Sync: true}
		tmpDir := dir
		if sep {
			tmpDir = t.TempDir()
			o.TempDir = tmpDir
		}
		boom := errors.New("boom")
		err := Write(path, o, func(f *os.File) error {
			if filepath.Dir(f.Name()) != tmpDir {
				t.Errorf("temporary file %s not in %s", f.Name(), tmpDir)
			}
			_, _ = f.Write([]byte("half"))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("error %v, want boom", err)
		}
		if got, _ := os.ReadFile(path); string(got) != "old" {
			t.Errorf("content %q after a failed write", got)
		}
		if left, _ := filepath.Glob(filepath.Join(tmpDir, "*"+TempSuffix)); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v", st.Mode().Perm())
		}
	}
}

// TestCopyFileKeepsContentAndMode copies a file, creating the destination folder.
func TestCopyFileKeepsContentAndMode(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a")
	if err := os.WriteFile(src, []byte("payload"), 0o640); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "x", "y", "b")
	if err := CopyFile(src, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); string(got) != "payload" {
		t.Errorf("copied %q", got)
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if err := CopyFile(filepath.Join(dir, "missing"), dst); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("copying a missing file: %v", err)
	}
}

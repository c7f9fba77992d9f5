// Package atomicfile writes files so that readers see the old content or the new one, never a part: the
// data goes to a temporary file of its own (in the same folder, or Options.TempDir on the same file
// system), which is then renamed into place. Two writers of one path never rename each other's temporary
// file away, and a failed write leaves no temporary file behind.
package atomicfile

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// TempSuffix ends the name of every temporary file this package makes: a folder scan can recognise (and
// clean up) what an interrupted process left.
const TempSuffix = ".tmp"

// Options tune Write. The zero value writes a file readable by all (0644) through a temporary file in the
// destination's folder, without fsync.
type Options struct {
	// Perm is the file's permission bits (0644 when 0).
	Perm os.FileMode
	// TempDir holds the temporary file instead of the destination's folder; it must be on the same file
	// system (a rename cannot cross file systems).
	TempDir string
	// Sync flushes the file to stable storage before the rename, and the folder after it, so the new
	// content survives a power loss once Write returns.
	Sync bool
}

// Write creates path's folder when missing, calls fill with a fresh temporary file, and when fill returns
// nil renames the file to path. fill may write, seek and re-read the file; it must not close it. On any
// error the temporary file is removed and path is untouched.
func Write(path string, o Options, fill func(f *os.File) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmpDir := o.TempDir
	if tmpDir == "" {
		tmpDir = dir
	}
	f, err := os.CreateTemp(tmpDir, filepath.Base(path)+".*"+TempSuffix)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	err = fill(f)
	if err == nil && o.Sync {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("writing %s: %w", tmp, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", tmp, cerr)
	}
	if err == nil {
		perm := o.Perm
		if perm == 0 {
			perm = 0o644
		}
		if cerr := os.Chmod(tmp, perm); cerr != nil {
			err = fmt.Errorf("writing %s: %w", tmp, cerr)
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if o.Sync {
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			_ = d.Close()
		}
	}
	return nil
}

// WriteFile writes data to path atomically with permissions perm, creating path's folder when missing.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, Options{Perm: perm}, func(f *os.File) error {
		if _, err := f.Write(data); err != nil {
			return fmt.Errorf("writing %s: %w", f.Name(), err)
		}
		return nil
	})
}

// WriteJSON writes v as indented JSON (with a final newline) to path atomically, readable by all.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return WriteFile(path, append(data, '\n'), 0o644)
}

// CopyFile copies src to dst atomically, keeping src's permission bits.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return Write(dst, Options{Perm: info.Mode().Perm()}, func(f *os.File) error {
		if _, err := io.Copy(f, in); err != nil {
			return fmt.Errorf("copying %s to %s: %w", src, dst, err)
		}
		return nil
	})
}

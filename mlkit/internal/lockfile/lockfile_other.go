//go:build !unix

package lockfile

import (
	"errors"
	"fmt"
	"os"
)

// Acquire takes the lock at path (creating the file exclusively), or returns a *HeldError naming the
// holder. A file whose process is gone is taken over.
func Acquire(path string) (*Lock, error) {
	for attempt := 0; attempt < 10; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			if _, err := f.Write(content()); err != nil {
				f.Close()
				os.Remove(path)
				return nil, fmt.Errorf("lockfile: writing %s: %w", path, err)
			}
			return &Lock{path: path, f: f}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lockfile: creating %s: %w", path, err)
		}
		held, herr := isHeld(path)
		if herr != nil {
			return nil, herr
		}
		if held {
			data, _ := os.ReadFile(path)
			pid, since := parse(data)
			return nil, &HeldError{Path: path, PID: pid, Since: since}
		}
		_ = os.Remove(path) // stale: its process is gone
	}
	return nil, fmt.Errorf("lockfile: %s keeps changing under us", path)
}

// Release drops the lock and removes the file.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Close()
	l.f = nil
	if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lockfile: releasing %s: %w", l.path, err)
	}
	return nil
}

// isHeld reports whether the process named in the file at path still runs.
func isHeld(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lockfile: reading %s: %w", path, err)
	}
	pid, _ := parse(data)
	if pid <= 0 {
		return false, nil
	}
	if pid == os.Getpid() {
		return true, nil
	}
	p, err := os.FindProcess(pid) // fails on Windows when the process is gone
	if err != nil {
		return false, nil
	}
	p.Release()
	return true, nil
}

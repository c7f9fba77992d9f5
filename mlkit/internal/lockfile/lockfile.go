// Package lockfile is an exclusive lock held by one process on a file path, with the holder's process id
// and start time written in the file so that whoever is refused can say who holds it.
//
// On Unix the lock is an flock(2) on the file: the kernel drops it when the holding process exits, however
// it exits, so a lock file left behind by a killed process is stale and simply taken over. Elsewhere the
// file is created exclusively and a file whose process is gone is taken over.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// HeldError is returned by Acquire when another holder has the lock.
type HeldError struct {
	// Path is the lock file.
	Path string
	// PID is the holding process (0 when the file could not be read).
	PID int
	// Since is when the holder took the lock (zero when unknown).
	Since time.Time
}

// Error says who holds the lock and since when.
func (e *HeldError) Error() string {
	since := "an unknown time"
	if !e.Since.IsZero() {
		since = e.Since.Local().Format("2006-01-02 15:04:05")
	}
	return fmt.Sprintf("%s is held by process %d (since %s)", e.Path, e.PID, since)
}

// Lock is a held lock; Release gives it back.
type Lock struct {
	path string
	f    *os.File
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// content is what a lock file holds: the holder's pid and start time, one per line.
func content() []byte {
	return []byte(strconv.Itoa(os.Getpid()) + "\n" + time.Now().UTC().Format(time.RFC3339Nano) + "\n")
}

// parse reads a lock file's pid and time (zero values when unreadable).
func parse(data []byte) (int, time.Time) {
	lines := strings.SplitN(string(data), "\n", 3)
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	var since time.Time
	if len(lines) > 1 {
		since, _ = time.Parse(time.RFC3339Nano, strings.TrimSpace(lines[1]))
	}
	return pid, since
}

// Holder reports whether the lock at path is held, by which process and since when. A missing file is a
// free lock.
func Holder(path string) (pid int, since time.Time, held bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("lockfile: reading %s: %w", path, err)
	}
	held, err = isHeld(path)
	if err != nil || !held {
		return 0, time.Time{}, false, err
	}
	pid, since = parse(data)
	return pid, since, true, nil
}

package lockfile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helperEnv makes the test binary a lock holder: it takes the lock at the path in the variable, prints
// "locked", and holds it until its stdin closes.
const helperEnv = "LOCKFILE_TEST_HOLD"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		l, err := Acquire(path)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		_ = l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdInChild starts a process holding the lock at path and returns it once it holds it.
func holdInChild(t *testing.T, path string) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("lock holder: %q %v", line, err)
	}
	return cmd, func() { stdin.Close(); _ = cmd.Wait() }
}

func TestAnotherProcessHoldsTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	child, stop := holdInChild(t, path)
	_, err := Acquire(path)
	var held *HeldError
	if !errors.As(err, &held) || held.PID != child.Process.Pid || time.Since(held.Since) > time.Minute {
		t.Fatalf("Acquire while process %d holds it: %v, want a HeldError naming it", child.Process.Pid, err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("process %d (since ", child.Process.Pid)) {
		t.Errorf("message %q does not name the holder", err)
	}
	if pid, _, ok, err := Holder(path); err != nil || !ok || pid != child.Process.Pid {
		t.Errorf("Holder = %d %v %v", pid, ok, err)
	}
	stop()
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after the holder released: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Release left the lock file: %v", err)
	}
}

func TestKilledHolderLeavesAStaleLockThatIsTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	child, _ := holdInChild(t, path)
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the killed holder's lock file should still be there: %v", err)
	}
	if _, _, held, err := Holder(path); err != nil || held {
		t.Fatalf("a dead process's lock reads as held=%v (%v)", held, err)
	}
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("taking over a stale lock: %v", err)
	}
	defer l.Release()
	data, _ := os.ReadFile(path)
	if pid, _ := parse(data); pid != os.Getpid() {
		t.Errorf("lock file names process %d, want this one (%d)", pid, os.Getpid())
	}
	// The lock also excludes a second holder within the same process.
	if _, err := Acquire(path); !errors.As(err, new(*HeldError)) {
		t.Errorf("second Acquire in the same process: %v, want a HeldError", err)
	}
}

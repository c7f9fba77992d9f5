//go:build unix

package kernel

import (
	"os/exec"
	"syscall"
)

// stopDriverOnCancel runs the Python driver in its own process group (a terminal's Ctrl-C reaches only
// mlkit-kernel, which cancels its context) and, on cancellation, sends the driver SIGTERM: the driver then
// shuts the kernel down (Jupyter starts kernels in their own session, so signalling our group would miss
// the kernel and the cell's program) and saves the partial notebook.
func stopDriverOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
}

//go:build !unix

package kernel

import "os/exec"

// stopDriverOnCancel keeps exec's default where there are no Unix signals: the driver is killed.
func stopDriverOnCancel(cmd *exec.Cmd) {}

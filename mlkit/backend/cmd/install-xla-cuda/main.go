// Command install-xla-cuda installs XLA's CUDA PJRT plugin and the NVIDIA libraries it needs from PyPI
// (the jax-cuda12-pjrt / jax-cuda13-pjrt wheels and nvidia-* wheels, through go-xla v0.1.4's installer) into
// ~/.local/lib/go-xla/nvidia, where mlkit's backend selection finds it: with a GPU present, backend.New then
// picks "xla:cuda". mlkit never downloads at run time; this command is the explicit, one-time step.
//
//	go run ./mlkit/backend/cmd/install-xla-cuda            # CUDA 13
//	go run ./mlkit/backend/cmd/install-xla-cuda -plugin cuda12
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/go-xla/pkg/installer"
)

func main() {
	plugin := flag.String("plugin", "cuda13", "cuda12 or cuda13 (the CUDA major version of the driver)")
	version := flag.String("version", "latest", "version of the jax-<plugin>-pjrt wheel")
	dir := flag.String("dir", "", "install folder (default ~/.local/lib/go-xla)")
	force := flag.Bool("force", false, "install even when no NVIDIA GPU is detected")
	flag.Parse()
	if *dir == "" {
		home, err := installer.DefaultHomeLibPath()
		if err != nil {
			fmt.Fprintln(os.Stderr, "install-xla-cuda: finding the home library folder:", err)
			os.Exit(1)
		}
		*dir = filepath.Join(home, "go-xla")
	}
	if !*force && !installer.HasNvidiaGPU() {
		fmt.Fprintln(os.Stderr, "install-xla-cuda: no NVIDIA GPU detected; nothing to do (use -force to install anyway)")
		return
	}
	if err := installer.CudaInstall(*plugin, *version, *dir, true, installer.Normal); err != nil {
		fmt.Fprintf(os.Stderr, "install-xla-cuda: installing %s (%s) into %s: %v\n", *plugin, *version, *dir, err)
		os.Exit(1)
	}
	fmt.Printf("install-xla-cuda: installed the %s PJRT plugin into %s/nvidia\n", *plugin, *dir)
}

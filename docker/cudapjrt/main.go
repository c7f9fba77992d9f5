// Command cudapjrt installs go-xla's CUDA PJRT plugin and the NVIDIA libraries it needs from PyPI's
// jax-cuda12-pjrt (or jax-cuda13-pjrt) wheels into ~/.local/lib/go-xla/nvidia, where GoMLX's xla backend
// finds them. go-xla would do this itself on first use when it sees a GPU; the CUDA image runs it at build
// time, where there is no GPU, so that containers start ready and offline.
//
//	go run ./docker/cudapjrt [-plugin cuda12] [-version latest] [-dir ~/.local/lib/go-xla]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/go-xla/pkg/installer"
)

func main() {
	plugin := flag.String("plugin", "cuda12", "cuda12 (jax-cuda12-pjrt) or cuda13 (jax-cuda13-pjrt)")
	version := flag.String("version", "latest", "jax PJRT wheel version, or latest")
	dir := flag.String("dir", "", "go-xla library directory (default ~/.local/lib/go-xla)")
	flag.Parse()
	if *dir == "" {
		lib, err := installer.DefaultHomeLibPath()
		if err != nil {
			fmt.Fprintf(os.Stderr, "cudapjrt: finding the default library directory: %v\n", err)
			os.Exit(1)
		}
		*dir = filepath.Join(lib, "go-xla")
	}
	if err := installer.CudaInstall(*plugin, *version, *dir, false, installer.Quiet); err != nil {
		fmt.Fprintf(os.Stderr, "cudapjrt: installing the %s PJRT plugin (version %s) into %s: %+v\n", *plugin, *version, *dir, err)
		os.Exit(1)
	}
}

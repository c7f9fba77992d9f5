// Command mlkit-kernel installs the "Go (mlkit)" Jupyter kernel (GoNB pinned by the repository's go.mod),
// wires a notebook to this repository's module, and runs notebooks headless, failing on any error.
//
//	mlkit-kernel install [--user | --prefix DIR | --data-dir DIR] [--skip-tools]
//	mlkit-kernel wire                       (first cell of every notebook: !*mlkit-kernel wire)
//	mlkit-kernel run [--out DIR] [--html] [--timeout 20m] NOTEBOOK_OR_DIR...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/visionnb/visionnb/internal/kernel"
)

const usage = `usage: mlkit-kernel COMMAND [flags]

Commands:
  install [--user | --prefix DIR | --data-dir DIR] [--skip-tools] [--raw-errors=BOOL]
        install gonb, goimports and staticcheck (pinned by go.mod) and mlkit-kernel into <repo>/bin, and the
        Jupyter kernel spec "Go (mlkit)" (gomlkit). Default location: <repo>/.cache/jupyter,
        an isolated Jupyter data dir used by tests and 'run'; --user: your own Jupyter;
        --prefix DIR: DIR/share/jupyter (a virtualenv).
  wire [--dir DIR]
        in a notebook cell '!*mlkit-kernel wire': make GoNB's module ($GONB_TMP_DIR) require this
        repository's module, replaced by the repository, with go.mod's pinned versions.
  run [--out DIR] [--html] [--timeout 20m] [--data-dir DIR] NOTEBOOK_OR_DIR...
        execute notebooks headless with the kernel; exit 1 if any cell errs, panics or exits non-zero.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "install":
		err = install(args)
	case "wire":
		err = wire(args)
	case "run":
		err = run(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "mlkit-kernel: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mlkit-kernel: %v\n", err)
		os.Exit(1)
	}
}

func install(args []string) error {
	fs := flag.NewFlagSet("install", flag.ExitOnError)
	user := fs.Bool("user", false, "install the kernel spec into your own Jupyter data directory")
	prefix := fs.String("prefix", "", "install the kernel spec into `DIR`/share/jupyter (e.g. a virtualenv)")
	dataDir := fs.String("data-dir", "", "install the kernel spec into this Jupyter data `DIR`")
	skipTools := fs.Bool("skip-tools", false, "only write the kernel spec; gonb, goimports and mlkit-kernel must already be in <repo>/bin")
	rawErrors := fs.String("raw-errors", "auto", "plain-text errors (true/false); auto: true for the isolated spec, false for --user/--prefix")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("install: unexpected arguments %q", fs.Args())
	}
	root, err := kernel.FindRoot()
	if err != nil {
		return err
	}
	in := kernel.NewInstaller(root).SkipTools(*skipTools)
	raw := true
	switch {
	case *user && *prefix != "":
		return fmt.Errorf("install: --user and --prefix exclude each other")
	case *user:
		d, err := kernel.UserDataDir()
		if err != nil {
			return err
		}
		in.DataDir(d)
		raw = false
	case *prefix != "":
		in.DataDir(kernel.PrefixDataDir(*prefix))
		raw = false
	case *dataDir != "":
		in.DataDir(*dataDir)
	}
	switch *rawErrors {
	case "auto":
	case "true":
		raw = true
	case "false":
		raw = false
	default:
		return fmt.Errorf("install: --raw-errors=%q, want auto, true or false", *rawErrors)
	}
	_, err = in.RawErrors(raw).Done()
	return err
}

func wire(args []string) error {
	fs := flag.NewFlagSet("wire", flag.ExitOnError)
	dir := fs.String("dir", os.Getenv(kernel.TmpDirEnv), "module directory to wire (default $GONB_TMP_DIR)")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("wire: $%s is not set: run it in a notebook cell as '!*mlkit-kernel wire', or pass --dir", kernel.TmpDirEnv)
	}
	root, err := kernel.FindRoot()
	if err != nil {
		return err
	}
	res, err := kernel.Wire(*dir, root)
	if err != nil {
		return err
	}
	fmt.Println(res)
	return nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	out := fs.String("out", "out", "directory for the executed notebooks (and HTML)")
	html := fs.Bool("html", false, "also write an HTML rendering of each executed notebook")
	timeout := fs.Duration("timeout", 20*time.Minute, "per-cell execution timeout")
	dataDir := fs.String("data-dir", "", "Jupyter data directory with the kernel spec (default <repo>/.cache/jupyter)")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		return fmt.Errorf("run: no notebooks given\n\n%s", usage)
	}
	root, err := kernel.FindRoot()
	if err != nil {
		return err
	}
	r := kernel.NewRunner(root).OutDir(*out).HTML(*html).Timeout(*timeout).Log(os.Stdout)
	if *dataDir != "" {
		r.DataDir(*dataDir)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	results, err := r.Run(ctx, fs.Args()...)
	if err != nil {
		return err
	}
	failed := 0
	for _, res := range results {
		if res.Failed() {
			failed++
		}
	}
	fmt.Printf("%d notebook(s), %d failed, %.1fs\n", len(results), failed, time.Since(start).Seconds())
	if failed > 0 {
		return fmt.Errorf("run: %d of %d notebook(s) failed", failed, len(results))
	}
	return nil
}

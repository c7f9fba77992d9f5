package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/visionnb/visionnb/mlkit"
	"github.com/visionnb/visionnb/mlkit/dataset"
	"github.com/visionnb/visionnb/mlkit/ingest"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// AppEnv names the environment variable giving the default --app.
const AppEnv = "MLKIT_APP"

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type command struct {
	name, args, help string
	run              func(c *cli, fs *flag.FlagSet, args []string) error
	flags            func(c *cli, fs *flag.FlagSet)
}

// cli holds one invocation's state.
type cli struct {
	stdout, stderr io.Writer
	app            string
	json           bool
	ctx            context.Context
	// per-command flags
	labelsFromFolders bool
	label, concept    string
	maxBytes          int64
	maxPixels         int64
	folders, zips     stringList
	globs, urls       stringList
	dataset           string
	counts, fractions string
	fold              string
	seed              int64
	replace           bool
	unlabelled        bool
	create, del       stringList
	rename            string
	source, detail    string
	wf                workflowFlags // train, evaluate, compare, select, test, predict, export

	lab labellingFlags // search, suggest, label-errors, leakage, cell (labelling.go)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var commands = []command{
	{name: "create", args: "[NAME|DIR]", help: "create an app (or check that an existing one opens); the only command that makes apps", run: runCreate},
	{name: "upload", args: "[SOURCE...]", help: "upload images; a SOURCE is a folder, file, glob, .zip or http(s) URL", run: runUpload,
		flags: func(c *cli, fs *flag.FlagSet) {
			fs.BoolVar(&c.labelsFromFolders, "labels-from-folders", false, "label each image with the name of its folder")
			fs.StringVar(&c.label, "label", "", "label every uploaded image with this concept")
			intVar(fs, &c.maxBytes, "max-bytes", ingest.DefaultMaxBytes, 1, maxUploadBytes, "largest accepted file in bytes")
			intVar(fs, &c.maxPixels, "max-pixels", ingest.DefaultMaxPixels, 1, maxUploadPixels, "largest accepted width×height")
			fs.Var(&c.folders, "folder", "upload a folder recursively (repeatable)")
			fs.Var(&c.zips, "zip", "upload a zip archive (repeatable)")
			fs.Var(&c.globs, "glob", "upload files matching a pattern (repeatable)")
			fs.Var(&c.urls, "url", "upload an image from an http(s) URL (repeatable)")
		}},
	{name: "label", args: "--concept C ID...", help: "label inputs with a concept", run: runLabel,
		flags: func(c *cli, fs *flag.FlagSet) {
			fs.StringVar(&c.concept, "concept", "", "the concept (created when missing)")
			fs.BoolVar(&c.replace, "replace", false, "make it the only label (fix a mislabel)")
			fs.StringVar(&c.source, "source", "manual", "who labels: manual, search or model")
			fs.StringVar(&c.detail, "detail", "", "the search query or model name")
		}},
	{name: "unlabel", args: "[--concept C] ID...", help: "remove a label (all labels without --concept)", run: runUnlabel,
		flags: func(c *cli, fs *flag.FlagSet) {
			fs.StringVar(&c.concept, "concept", "", "the concept to remove; all when empty")
		}},
	{name: "concepts", args: "", help: "list concepts; --create, --rename, --delete change them", run: runConcepts,
		flags: func(c *cli, fs *flag.FlagSet) {
			fs.Var(&c.create, "create", "create a concept (repeatable)")
			fs.StringVar(&c.rename, "rename", "", "rename a concept: OLD=NEW")
			fs.Var(&c.del, "delete", "delete a concept and its labels (repeatable)")
		}},
	{name: "inputs", args: "", help: "list inputs with their labels", run: runInputs,
		flags: func(c *cli, fs *flag.FlagSet) {
			fs.StringVar(&c.concept, "concept", "", "only inputs with this label")
			fs.BoolVar(&c.unlabelled, "unlabelled", false, "only inputs without a label")
		}},
	{name: "split", args: "--counts T,V,T | --fractions T,V,T | --fold I/K", help: "freeze a stratified dataset version (an unchanged one is reused)", run: runSplit,
		flags: func(c *cli, fs *flag.FlagSet) {
			fs.StringVar(&c.dataset, "dataset", "default", "dataset name")
			fs.StringVar(&c.counts, "counts", "", "train,validation,test counts, e.g. 500,100,100")
			fs.StringVar(&c.fractions, "fractions", "", "train,validation,test fractions, e.g. 0.7,0.15,0.15")
			fs.StringVar(&c.fold, "fold", "", "fold I of a stratified K-fold cross-validation, e.g. 1/5: validation is that fold, train the rest, no test")
			intVar(fs, &c.seed, "seed", 0, 0, math.MaxInt64, "seed of the deterministic assignment")
		}},
	{name: "stats", args: "", help: "count inputs per class and split", run: runStats,
		flags: func(c *cli, fs *flag.FlagSet) {
			fs.StringVar(&c.dataset, "dataset", "", "dataset whose latest version gives the split counts (default: the most recent)")
		}},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mlkit COMMAND [--app NAME|DIR] [--json] [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.help)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n--app defaults to $%s; a bare name lives under $%s (default ~/mlkit/apps).\n", AppEnv, mlkit.HomeEnv)
	fmt.Fprintln(w, "Run 'mlkit help COMMAND' (or 'mlkit COMMAND -h') for a command's flags.")
	fmt.Fprintln(w, "Exit status: 0 ok, 1 error or nothing done, 2 usage.")
}

// findCommand returns the command called name, or nil.
func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// flagSet returns the flags of cmd (the common --app and --json, then its own), bound to c; its usage
// (the command's line, help and flags) goes to w.
func (c *cli) flagSet(cmd *command, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mlkit "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&c.app, "app", os.Getenv(AppEnv), "app name or folder (default $"+AppEnv+")")
	fs.BoolVar(&c.json, "json", false, "print machine-readable JSON")
	if cmd.flags != nil {
		cmd.flags(c, fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mlkit %s [flags] %s\n%s\n\nflags:\n", cmd.name, cmd.args, cmd.help)
		fs.PrintDefaults()
	}
	return fs
}

// wantsHelp reports whether the arguments ask for help (-h, -help or --help before any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// errorText is how the CLI prints err: the facade's errors start with "mlkit: " and the CLI already
// prefixes "mlkit COMMAND: ", so that prefix is dropped wherever the chain repeats it (once per layer
// that wrapped an mlkit error).
func errorText(err error) string {
	return repeatedPrefix.ReplaceAllString(err.Error(), "$1")
}

var repeatedPrefix = regexp.MustCompile(`(^|: )mlkit: `)

// run executes one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		if args[0] == "help" && len(args) > 1 {
			cmd := findCommand(args[1])
			if cmd == nil || len(args) > 2 {
				fmt.Fprintf(stderr, "mlkit help: unknown command %q\n", strings.Join(args[1:], " "))
				usage(stderr)
				return exitUsage
			}
			(&cli{}).flagSet(cmd, stdout).Usage()
			return exitOK
		}
		usage(stdout)
		return exitOK
	}
	cmd := findCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "mlkit: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := &cli{stdout: stdout, stderr: stderr, ctx: ctx}
	mlkit.Messages = stderr // notices never mix with --json output
	if wantsHelp(args[1:]) {
		c.flagSet(cmd, stdout).Usage()
		return exitOK
	}
	fs := c.flagSet(cmd, stderr)
	positional, err := parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage // flag already printed the problem
	}
	err = cmd.run(c, fs, positional)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mlkit %s: %s\n", cmd.name, errorText(err))
		fs.Usage()
		return exitUsage
	default:
		fmt.Fprintf(stderr, "mlkit %s: %s\n", cmd.name, errorText(err))
		return exitError
	}
}

// parseInterleaved parses flags that may come before, between or after positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" || (len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--") {
			if rest[0] == "--" {
				rest = rest[1:]
			}
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// openApp opens the existing app of --app (only create makes apps).
func (c *cli) openApp() (*mlkit.App, error) {
	name := c.app
	if name == "" {
		return nil, usagef("no app: pass --app NAME|DIR or set $%s", AppEnv)
	}
	app, err := mlkit.Open(name)
	var nae *mlkit.NoAppError
	if errors.As(err, &nae) && nae.Occupied {
		return nil, fmt.Errorf("no app named %q (looked in %s, a folder of other files, not an app); give an app's name or folder, or make one with `mlkit create NAME`", nae.Name, nae.Dir)
	}
	if errors.As(err, &nae) {
		return nil, fmt.Errorf("no app named %q (looked in %s); create it with `mlkit create %s`", nae.Name, nae.Dir, nae.Name)
	}
	return app, err
}

func (c *cli) emit(v any, text func(w io.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("writing JSON: %w", err)
		}
		return nil
	}
	text(c.stdout)
	return nil
}

func runCreate(c *cli, _ *flag.FlagSet, args []string) error {
	if len(args) > 1 || (c.app != "" && len(args) == 1 && args[0] != c.app) {
		return usagef("create takes one app name or folder")
	}
	name := c.app
	if len(args) == 1 {
		name = args[0]
	}
	if name == "" {
		return usagef("no app: give NAME|DIR, pass --app or set $%s", AppEnv)
	}
	app, err := mlkit.Create(name)
	if err != nil {
		return err
	}
	defer app.Close()
	n, err := app.Store().CountInputs(c.ctx)
	if err != nil {
		return err
	}
	return c.emit(map[string]any{"app": app.Name, "dir": app.Dir(), "inputs": n}, func(w io.Writer) {
		fmt.Fprintf(w, "app %s ready in %s (%s)\n", app.Name, app.Dir(), view.Count(n, "input"))
	})
}

func runUpload(c *cli, _ *flag.FlagSet, args []string) error {
	up := func(app *mlkit.App) *mlkit.UploadBuilder {
		u := app.Upload().MaxBytes(c.maxBytes).MaxPixels(c.maxPixels)
		if c.labelsFromFolders {
			u.LabelsFromFolders()
		}
		if c.label != "" {
			u.Label(c.label)
		}
		for _, f := range c.folders {
			u.Folder(f)
		}
		for _, z := range c.zips {
			u.Zip(z)
		}
		for _, g := range c.globs {
			u.Glob(g)
		}
		u.URL(c.urls...)
		var files []string
		for _, a := range args {
			switch {
			case strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://"):
				u.URL(a)
			case strings.ContainsAny(a, "*?["):
				u.Glob(a)
			default:
				if st, err := os.Stat(a); err == nil && st.IsDir() {
					u.Folder(a)
				} else if isZip(a) {
					u.Zip(a)
				} else {
					files = append(files, a)
				}
			}
		}
		return u.Files(files...)
	}
	if len(args)+len(c.folders)+len(c.zips)+len(c.globs)+len(c.urls) == 0 {
		return usagef("nothing to upload: give a folder, file, glob, zip or URL")
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	rep, err := up(app).Run(c.ctx)
	if rep != nil {
		if perr := c.emit(rep, func(w io.Writer) {
			for _, r := range rep.Rejected {
				fmt.Fprintf(w, "rejected %s: %s: %s\n", r.Source, r.Reason, r.Message)
			}
			fmt.Fprintln(w, rep.Summary())
		}); perr != nil && err == nil {
			err = perr
		}
		if err == nil && len(rep.Added)+len(rep.Duplicates) == 0 {
			// Nothing is in the app that was not before: a failure for scripts, whatever the reason.
			if len(rep.Rejected) == 0 {
				return errors.New("nothing uploaded: no image found in the sources")
			}
			return fmt.Errorf("nothing uploaded: all %d sources were rejected", len(rep.Rejected))
		}
	}
	return err
}

// isZip reports whether the file at p starts like a zip archive.
func isZip(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return n == 4 && string(head) == "PK\x03\x04"
}

func parseIDs(args []string) ([]int64, error) {
	if len(args) == 0 {
		return nil, usagef("no input ids given")
	}
	ids := make([]int64, 0, len(args))
	for _, a := range args {
		for _, part := range strings.Split(a, ",") {
			if part == "" {
				continue
			}
			id, err := strconv.ParseInt(part, 10, 64)
			if err != nil || id <= 0 {
				return nil, usagef("input id %q is not a positive integer", part)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func runLabel(c *cli, _ *flag.FlagSet, args []string) error {
	if c.concept == "" {
		return usagef("--concept is required")
	}
	src := store.AnnotationSource(c.source)
	if !src.Valid() || src == store.SourceFolder {
		return usagef("--source %q: want manual, search or model", c.source)
	}
	ids, err := parseIDs(args)
	if err != nil {
		return err
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	by := dataset.By{Source: src, Detail: c.detail}
	var n int
	if c.replace {
		n, err = dataset.Relabel(c.ctx, app.Store(), c.concept, ids, by)
	} else {
		n, err = dataset.Label(c.ctx, app.Store(), c.concept, ids, by)
	}
	if err != nil {
		return err
	}
	return c.emit(map[string]any{"concept": c.concept, "inputs": len(ids), "changed": n}, func(w io.Writer) {
		fmt.Fprintf(w, "labelled %d of %s as %s\n", n, view.Count(len(ids), "input"), c.concept)
	})
}

func runUnlabel(c *cli, _ *flag.FlagSet, args []string) error {
	ids, err := parseIDs(args)
	if err != nil {
		return err
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	n, err := app.Unlabel(c.concept, ids...)
	if err != nil {
		return err
	}
	return c.emit(map[string]any{"concept": c.concept, "inputs": len(ids), "removed": n}, func(w io.Writer) {
		fmt.Fprintf(w, "removed %s from %s\n", view.Count(n, "label"), view.Count(len(ids), "input"))
	})
}

func runConcepts(c *cli, _ *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("concepts takes no arguments (use --create, --rename, --delete)")
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	st := app.Store()
	if len(c.create) > 0 {
		if err := dataset.CreateConcepts(c.ctx, st, c.create...); err != nil {
			return err
		}
	}
	if c.rename != "" {
		from, to, ok := strings.Cut(c.rename, "=")
		if !ok {
			return usagef("--rename %q: want OLD=NEW", c.rename)
		}
		if err := dataset.RenameConcept(c.ctx, st, from, to); err != nil {
			return err
		}
	}
	for _, d := range c.del {
		if err := dataset.DeleteConcept(c.ctx, st, d); err != nil {
			return err
		}
	}
	cs, err := app.Concepts()
	if err != nil {
		return err
	}
	type row struct {
		Name   string `json:"name"`
		Inputs int    `json:"inputs"`
	}
	rows := make([]row, 0, len(cs))
	for _, cc := range cs {
		rows = append(rows, row{cc.Name, cc.Inputs})
	}
	return c.emit(rows, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "concept\tinputs")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%d\n", r.Name, r.Inputs)
		}
		_ = tw.Flush()
	})
}

func runInputs(c *cli, _ *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("inputs takes no arguments")
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	ins, err := app.Store().Inputs(c.ctx, store.InputFilter{Concept: c.concept, Unlabelled: c.unlabelled})
	if err != nil {
		return err
	}
	type row struct {
		ID     int64    `json:"id"`
		File   string   `json:"file_name"`
		SHA256 string   `json:"sha256"`
		Width  int      `json:"width"`
		Height int      `json:"height"`
		Format string   `json:"format"`
		Labels []string `json:"labels"`
		Source string   `json:"source"`
	}
	rows := make([]row, 0, len(ins))
	for _, in := range ins {
		rows = append(rows, row{in.ID, in.FileName, in.SHA256, in.Width, in.Height, in.Format, append([]string{}, in.Labels...), in.Source})
	}
	return c.emit(rows, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "id\tfile\tsize\tlabels")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%dx%d\t%s\n", r.ID, r.File, r.Width, r.Height, strings.Join(r.Labels, ","))
		}
		_ = tw.Flush()
	})
}

// btoi is 1 for true, 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func runSplit(c *cli, _ *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("split takes no arguments")
	}
	var spec dataset.SplitSpec
	var err error
	switch {
	case btoi(c.counts != "")+btoi(c.fractions != "")+btoi(c.fold != "") != 1:
		return usagef("give exactly one of --counts, --fractions and --fold")
	case c.counts != "":
		spec, err = dataset.ParseCounts(c.counts)
	case c.fold != "":
		spec, err = dataset.ParseFold(c.fold)
	default:
		spec, err = dataset.ParseFractions(c.fractions)
	}
	if err != nil {
		return usageError{err.Error()}
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	v, err := app.Split(c.dataset, spec.WithSeed(c.seed))
	if err != nil {
		return err
	}
	out := map[string]any{"dataset": v.Dataset, "version": v.Number, "seed": v.Seed, "kept": v.Kept, "added": v.Added,
		"dropped": v.Dropped, "counts": v.Counts, "reused": v.Reused, "warning": v.Warning}
	return c.emit(out, func(w io.Writer) {
		if v.Reused {
			fmt.Fprintf(w, "dataset %s v%d unchanged (same spec, same members)\n", v.Dataset, v.Number)
		} else {
			fmt.Fprintf(w, "created dataset %s v%d: %d new inputs (%d kept, %d dropped)\n", v.Dataset, v.Number, v.Added, v.Kept, v.Dropped)
		}
		fmt.Fprintf(w, "dataset %s version %d (seed %d): train %d, validation %d, test %d\n",
			v.Dataset, v.Number, v.Seed, v.Total(store.Train), v.Total(store.Validation), v.Total(store.Test))
		var classes []string
		seen := map[string]bool{}
		for _, per := range v.Counts {
			for cl := range per {
				if !seen[cl] {
					seen[cl] = true
					classes = append(classes, cl)
				}
			}
		}
		sort.Strings(classes)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "class\ttrain\tvalidation\ttest\t")
		for _, cl := range classes {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", cl, v.Counts[store.Train][cl], v.Counts[store.Validation][cl], v.Counts[store.Test][cl])
		}
		_ = tw.Flush()
	})
}

func runStats(c *cli, _ *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("stats takes no arguments")
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	s, err := app.StatsFor(c.dataset)
	if err != nil {
		return err
	}
	return c.emit(s, func(w io.Writer) { fmt.Fprint(w, s.String()) })
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit"
)

// TestCLIAppMustExist: every command but create refuses a missing app (and does not create it), and
// create refuses a folder of other files (a photo folder given by mistake).
func TestCLIAppMustExist(t *testing.T) {
	home := t.TempDir()
	t.Setenv("MLKIT_HOME", home)
	t.Setenv(AppEnv, "")
	photos := t.TempDir()
	writePNG(t, filepath.Join(photos, "cat", "1.png"), 1)
	for _, args := range [][]string{
		{"stats", "--app", "zoo"},
		{"upload", "--app", "zoo", photos},
		{"inputs", "--app", "zoo"},
		{"concepts", "--app", "zoo", "--create", "cat"},
		{"embed", "--app", "zoo"},
		{"train", "--app", "zoo", "--model", "m", "--head", "mobilenet_v2_035"},
	} {
		r := call(args...)
		want := "no app named \"zoo\" (looked in " + filepath.Join(home, "zoo") + "); create it with `mlkit create zoo`"
		if r.code != exitError || !strings.Contains(r.stderr, want) {
			t.Errorf("mlkit %v: exit %d, stderr %q; want 1 and %q", args, r.code, r.stderr, want)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "zoo")); !os.IsNotExist(err) {
		t.Fatalf("a command other than create made the app: %v", err)
	}
	// --app given as a photo folder: refused by every command, create included.
	if r := call("upload", "--app", photos, photos); r.code != exitError || !strings.Contains(r.stderr, "a folder of other files, not an app") {
		t.Errorf("upload --app PHOTOS: %+v", r)
	}
	if r := call("create", photos); r.code != exitError || !strings.Contains(r.stderr, "not an mlkit app") {
		t.Errorf("create PHOTOS: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(photos, "app.db")); !os.IsNotExist(err) {
		t.Fatalf("an app was created inside the photo folder: %v", err)
	}
	if r := call("create", "bad name"); r.code != exitError || !strings.Contains(r.stderr, "app name") {
		t.Errorf("create 'bad name': %+v", r)
	}
	if r := call("create", "zoo"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	if r := call("create", "zoo"); r.code != 0 || !strings.Contains(r.stdout, "ready") {
		t.Fatalf("create of an existing app opens it: %+v", r)
	}
	if r := call("stats", "--app", "zoo"); r.code != 0 {
		t.Fatalf("stats after create: %+v", r)
	}
}

// TestCLINothingDoneIsAFailure: a command that did nothing exits 1 with a reason, so scripts notice.
func TestCLINothingDoneIsAFailure(t *testing.T) {
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv(AppEnv, "")
	if r := call("create", "zoo"); r.code != 0 {
		t.Fatal(r)
	}
	junk := t.TempDir()
	os.WriteFile(filepath.Join(junk, "notes.txt"), []byte("not an image"), 0o644)
	empty := t.TempDir()
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"upload", "--app", "zoo", filepath.Join(junk, "missing")}, "nothing uploaded: all 1 sources were rejected"},
		{[]string{"upload", "--app", "zoo", "--folder", junk}, "nothing uploaded: all 1 sources were rejected"},
		{[]string{"upload", "--app", "zoo", empty}, "nothing uploaded: no image found"},
		{[]string{"stats", "--app", "zoo", "--dataset", "ghost"}, `dataset "ghost"`},
		{[]string{"embed", "--app", "zoo"}, "nothing embedded"},
	}
	for _, c := range cases {
		r := call(c.args...)
		if r.code != exitError || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("mlkit %v: exit %d, stderr %q; want 1 and %q", c.args, r.code, r.stderr, c.msg)
		}
	}
	// A partial upload and an upload of duplicates did something (the images are in the app): exit 0.
	writePNG(t, filepath.Join(junk, "a.png"), 7)
	for i := 0; i < 2; i++ {
		if r := call("upload", "--app", "zoo", junk); r.code != 0 {
			t.Fatalf("upload #%d with one good image: %+v", i, r)
		}
	}
	if r := call("stats", "--app", "zoo"); r.code != 0 {
		t.Fatalf("stats without a dataset: %+v", r)
	}
}

// TestEveryNumericFlagIsBounded walks every command's flags: a numeric flag must be one of the bounded
// flag values (so none can be added unbounded), and its default must lie in its range.
func TestEveryNumericFlagIsBounded(t *testing.T) {
	numeric := 0
	for i := range commands {
		cmd := &commands[i]
		fs := (&cli{}).flagSet(cmd, io.Discard)
		fs.VisitAll(func(f *flag.Flag) {
			switch v := f.Value.(type) {
			case *intFlag[int]:
				numeric++
				if !v.optional && !v.inRange(*v.p) {
					t.Errorf("mlkit %s --%s: default %d outside %d..%d", cmd.name, f.Name, *v.p, v.lo, v.hi)
				}
			case *intFlag[int64]:
				numeric++
				if !v.optional && !v.inRange(*v.p) {
					t.Errorf("mlkit %s --%s: default %d outside %d..%d", cmd.name, f.Name, *v.p, v.lo, v.hi)
				}
			case *floatFlag:
				numeric++
				if !v.optional && !v.inRange(*v.p) {
					t.Errorf("mlkit %s --%s: default %g outside %g..%g", cmd.name, f.Name, *v.p, v.lo, v.hi)
				}
			case flag.Getter:
				switch v.Get().(type) {
				case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, time.Duration:
					t.Errorf("mlkit %s --%s is an unbounded %T flag: define it with intVar/floatVar (flags.go)", cmd.name, f.Name, v.Get())
				}
			}
		})
	}
	if numeric < 8 {
		t.Fatalf("found %d bounded numeric flags; the walk is broken", numeric)
	}
}

// TestCLINumericFlagsAreRangeChecked: out-of-range, NaN and Inf values are usage errors naming the flag
// and its range, never a silent default.
func TestCLINumericFlagsAreRangeChecked(t *testing.T) {
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv(AppEnv, "")
	if r := call("create", "zoo"); r.code != 0 {
		t.Fatal(r)
	}
	train := []string{"train", "--app", "zoo", "--model", "m", "--deep", "resnet50"}
	cases := []struct {
		args []string
		msg  string
	}{
		{append(train, "--size", "0"), `invalid value "0" for flag -size: want an integer from 32 to 1024`},
		{append(train, "--size", "-64"), "flag -size: want an integer from 32 to 1024"},
		{append(train, "--size", "100000"), "flag -size: want an integer from 32 to 1024"},
		{append(train, "--epochs", "0"), "flag -epochs: want an integer from 1 to 10000"},
		{append(train, "--epochs", "-1"), "flag -epochs"},
		{append(train, "--batch", "0"), "flag -batch: want an integer from 1 to 4096"},
		{append(train, "--lr", "0"), "flag -lr: want a number from 1e-08 to 10"},
		{append(train, "--lr", "NaN"), "flag -lr"},
		{append(train, "--lr", "Inf"), "flag -lr"},
		{append(train, "--lr", "-0.1"), "flag -lr"},
		{append(train, "--seed", "-1"), "flag -seed"},
		{[]string{"evaluate", "--app", "zoo", "--model", "m", "--threshold", "1.5"}, "flag -threshold: want a number from 0 to 1"},
		{[]string{"evaluate", "--app", "zoo", "--model", "m", "--threshold", "NaN"}, "flag -threshold"},
		{[]string{"evaluate", "--app", "zoo", "--model", "m", "--version", "-2"}, "flag -version"},
		{[]string{"upload", "--app", "zoo", "--max-bytes", "0", "x.png"}, "flag -max-bytes: want an integer from 1 to"},
		{[]string{"upload", "--app", "zoo", "--max-pixels", "-5", "x.png"}, "flag -max-pixels"},
		{[]string{"upload", "--app", "zoo", "--max-bytes", "99999999999999999999", "x.png"}, "flag -max-bytes"},
		{[]string{"split", "--app", "zoo", "--counts", "1,0,0", "--seed", "x"}, "flag -seed"},
	}
	for _, c := range cases {
		r := call(c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("mlkit %v: exit %d, stderr %q; want 2 and %q", c.args, r.code, firstLine(r.stderr), c.msg)
		}
	}
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// TestCLIHelpForACommand: `mlkit help CMD`, `mlkit CMD --help` and `-h` print that command's usage and
// flags on stdout, exit 0.
func TestCLIHelpForACommand(t *testing.T) {
	for _, args := range [][]string{{"help", "train"}, {"train", "--help"}, {"train", "-h"}, {"train", "--app", "x", "-help"}} {
		r := call(args...)
		if r.code != 0 || !strings.Contains(r.stdout, "usage: mlkit train") || !strings.Contains(r.stdout, "-epochs N") ||
			strings.Contains(r.stdout, "commands:") {
			t.Errorf("mlkit %v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
	if r := call("help"); r.code != 0 || !strings.Contains(r.stdout, "commands:") {
		t.Errorf("mlkit help: %+v", r)
	}
	if r := call("help", "frobnicate"); r.code != exitUsage || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("mlkit help frobnicate: %+v", r)
	}
}

// TestCLIErrorsHaveOnePrefix: facade errors ("mlkit: ...", wrapped again by other mlkit layers) print
// with the CLI's "mlkit COMMAND: " prefix only.
func TestCLIErrorsHaveOnePrefix(t *testing.T) {
	err := fmt.Errorf("mlkit: train %q: %w", "m", fmt.Errorf("mlkit: embed: %w", errors.New("no weights")))
	if got, want := errorText(err), `train "m": embed: no weights`; got != want {
		t.Fatalf("errorText = %q, want %q", got, want)
	}
	if got := errorText(errors.New("the mlkit: tool")); got != "the mlkit: tool" {
		t.Fatalf("errorText changed a message without the prefix: %q", got)
	}
	t.Setenv("MLKIT_HOME", t.TempDir())
	t.Setenv(AppEnv, "")
	call("create", "zoo")
	r := call("stats", "--app", "zoo", "--dataset", "ghost")
	if r.code != exitError || strings.Count(r.stderr, "mlkit") != 1 || !strings.HasPrefix(r.stderr, "mlkit stats: ") {
		t.Fatalf("stderr %q: want exactly one mlkit prefix", r.stderr)
	}
}

// TestNothingPredicted: predict fails when no file of the folder was predicted.
func TestNothingPredicted(t *testing.T) {
	if err := nothingPredicted("d", nil); err == nil || !strings.Contains(err.Error(), "no files in d") {
		t.Errorf("empty folder: %v", err)
	}
	bad := []mlkit.Prediction{{File: "a.txt", Err: "not an image"}, {File: "b.txt", Err: "not an image"}}
	if err := nothingPredicted("d", bad); err == nil || !strings.Contains(err.Error(), "none of the 2 files") {
		t.Errorf("only broken files: %v", err)
	}
	if err := nothingPredicted("d", append(bad, mlkit.Prediction{File: "c.png", Class: "cat"})); err != nil {
		t.Errorf("one good prediction: %v", err)
	}
}

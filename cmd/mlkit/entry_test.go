package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if r := call("upload", "--app", photos, photos); r.code != exitError || !strings.Contains(r.stderr, "no app named") {
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

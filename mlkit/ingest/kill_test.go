package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit/store"
)

// killHelperEnv, when set to "<app dir>|<source dir>", makes TestKillHelper run an upload (in the
// subprocess that TestKillMidUpload starts and kills).
const killHelperEnv = "MLKIT_INGEST_KILL_HELPER"

func TestKillHelper(t *testing.T) {
	spec := os.Getenv(killHelperEnv)
	if spec == "" {
		t.Skip("helper of TestKillMidUpload; runs only in its subprocess")
	}
	app, src, _ := strings.Cut(spec, "|")
	st, err := store.Open(app)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(st).Folder(src).LabelsFromFolders().Workers(1).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestKillMidUpload SIGKILLs an upload of a few hundred images mid-way, checks that the store is consistent
// (integrity, every row has its blob and label) and that a re-run resumes to the full count.
func TestKillMidUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 300 images and runs a subprocess")
	}
	const total = 300
	src := t.TempDir()
	for i := 0; i < total; i++ {
		class := []string{"ant", "bee", "cow"}[i%3]
		write(t, filepath.Join(src, class, fmt.Sprintf("%03d.jpg", i)), encJPEG(t, noise(200, 150, int64(1000+i))))
	}
	app := filepath.Join(t.TempDir(), "app")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+app+"|"+src)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	rows := func() int {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(app, store.DBFileName)+"?mode=ro&_pragma=busy_timeout(1000)")
		if err != nil {
			return 0
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM inputs`).Scan(&n); err != nil {
			return 0
		}
		return n
	}
	deadline := time.Now().Add(2 * time.Minute)
	killedAt := -1
	for killedAt < 0 {
		select {
		case err := <-exited:
			t.Fatalf("the upload finished before it could be killed (err %v); output:\n%s", err, out.String())
		default:
		}
		if _, err := os.Stat(filepath.Join(app, store.DBFileName)); err == nil {
			if n := rows(); n >= 30 {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killedAt = n
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("upload made no progress; output:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	<-exited

	st, err := store.Open(app)
	if err != nil {
		t.Fatalf("reopening after the kill: %v", err)
	}
	defer st.Close()
	var check string
	if err := st.DB().QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	fk, err := st.DB().Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if fk.Next() {
		t.Errorf("foreign_key_check reports violations")
	}
	fk.Close()
	ctx := context.Background()
	ins, err := st.Inputs(ctx, store.InputFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 || len(ins) >= total {
		t.Fatalf("after the kill %d rows, want some but not all %d", len(ins), total)
	}
	for _, in := range ins {
		blob, err := st.ReadBlob(in.SHA256)
		if err != nil || store.SHA256(blob) != in.SHA256 {
			t.Fatalf("input %d (%s): blob missing or damaged: %v", in.ID, in.FileName, err)
		}
		if _, err := os.Stat(st.ThumbPath(in.SHA256)); err != nil {
			t.Fatalf("input %d: thumbnail missing: %v", in.ID, err)
		}
		if len(in.Labels) != 1 {
			t.Fatalf("input %d has labels %v; the row and its label must be written together", in.ID, in.Labels)
		}
	}
	t.Logf("killed with %d of %d rows written (%d on disk at kill time)", len(ins), total, killedAt)

	rep, err := New(st).Folder(src).LabelsFromFolders().Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added) != total-len(ins) || len(rep.Duplicates) != len(ins) || len(rep.Rejected) != 0 {
		t.Fatalf("resume: %s; want %d added, %d duplicates", rep.Summary(), total-len(ins), len(ins))
	}
	n, _ := st.CountInputs(ctx)
	cs, _ := st.Concepts(ctx)
	if n != total || len(cs) != 3 || cs[0].Inputs != total/3 || cs[1].Inputs != total/3 || cs[2].Inputs != total/3 {
		t.Fatalf("after resume: %d inputs, concepts %+v; want %d, 100 each", n, cs, total)
	}
}

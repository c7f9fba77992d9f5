package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fakeSHA(i int) string { return SHA256([]byte(fmt.Sprintf("input %d", i))) }

func openTemp(t testing.TB) *Store {
	t.Helper()
	st, err := Open(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestOpenMigratesOnceAndSetsPragmas(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	for i := 0; i < 3; i++ {
		st, err := Open(dir)
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		got, err := st.AppliedMigrations(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := make([]int, SchemaVersion())
		for k := range want {
			want[k] = k + 1
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("open #%d: migrations %v, want %v", i, got, want)
		}
		var mode string
		var fk, busy int
		db := st.DB()
		if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || fk != 1 || busy <= 0 {
			t.Errorf("journal_mode %q foreign_keys %d busy_timeout %d; want wal, 1, >0", mode, fk, busy)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []string{DBFileName, "blobs", "thumbs"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("app dir lacks %s: %v", sub, err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, 'future', '')`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: err = %v, want one saying it is newer", err)
	}
}

func TestForeignKeysAndCascade(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	var inID, cID int64
	err := st.Tx(ctx, func(tx *Tx) error {
		var err error
		inID, _, err = tx.InsertInput(ctx, Input{SHA256: fakeSHA(1), FileName: "a.jpg", Source: "/a.jpg", Width: 2, Height: 3, Format: "jpeg", Bytes: 10})
		if err != nil {
			return err
		}
		c, _, err := tx.EnsureConcept(ctx, "dog")
		cID = c.ID
		if err != nil {
			return err
		}
		_, err = tx.AddAnnotation(ctx, inID, c.ID, SourceManual, "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// An annotation of a missing input violates the foreign key.
	err = st.Tx(ctx, func(tx *Tx) error {
		_, err := tx.AddAnnotation(ctx, 9999, cID, SourceManual, "")
		return err
	})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "foreign key") {
		t.Fatalf("annotation of a missing input: err = %v, want a foreign key failure", err)
	}
	// Membership in a version, then a hard delete cascades to annotations and members.
	err = st.Tx(ctx, func(tx *Tx) error {
		v, err := tx.CreateVersion(ctx, "ds", 1, "{}")
		if err != nil {
			return err
		}
		return tx.AddMembers(ctx, v.ID, []Member{{InputID: inID, Split: Train, ConceptID: cID}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tx(ctx, func(tx *Tx) error { _, err := tx.RemoveInputs(ctx, []int64{inID}, true); return err }); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"annotations", "version_members"} {
		var n int
		if err := st.DB().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s has %d rows after the input was deleted, want 0", table, n)
		}
	}
}

func TestFrozenVersionRejectsMembers(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	var vid, inID int64
	err := st.Tx(ctx, func(tx *Tx) error {
		var err error
		inID, _, err = tx.InsertInput(ctx, Input{SHA256: fakeSHA(1), FileName: "a", Source: "a", Width: 1, Height: 1, Format: "png", Bytes: 1})
		if err != nil {
			return err
		}
		v, err := tx.CreateVersion(ctx, "ds", 0, "{}")
		vid = v.ID
		if err != nil {
			return err
		}
		return tx.FreezeVersion(ctx, v.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Tx(ctx, func(tx *Tx) error { return tx.AddMembers(ctx, vid, []Member{{InputID: inID, Split: Test}}) })
	if err == nil || !strings.Contains(err.Error(), "frozen") {
		t.Fatalf("adding to a frozen version: err = %v, want 'frozen'", err)
	}
}

func TestInsertInputIsIdempotentAndRestoresSoftRemoved(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	in := Input{SHA256: fakeSHA(7), FileName: "x.png", Source: "/x.png", Width: 4, Height: 5, Format: "png", Bytes: 99}
	var ids []int64
	var addeds []bool
	for i := 0; i < 2; i++ {
		if err := st.Tx(ctx, func(tx *Tx) error {
			id, added, err := tx.InsertInput(ctx, in)
			ids, addeds = append(ids, id), append(addeds, added)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0] != ids[1] || !addeds[0] || addeds[1] {
		t.Fatalf("two inserts: ids %v added %v; want same id, added then not", ids, addeds)
	}
	if err := st.Tx(ctx, func(tx *Tx) error { _, err := tx.RemoveInputs(ctx, ids[:1], false); return err }); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.CountInputs(ctx); n != 0 {
		t.Fatalf("after soft removal CountInputs = %d, want 0", n)
	}
	if err := st.Tx(ctx, func(tx *Tx) error {
		_, added, err := tx.InsertInput(ctx, in)
		if !added {
			return fmt.Errorf("re-inserting a soft-removed input did not restore it")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := st.InputBySHA(ctx, in.SHA256)
	if err != nil || got.Removed || got.Width != 4 || got.Format != "png" {
		t.Fatalf("InputBySHA = %+v, %v", got, err)
	}
}

func TestPutBlobDedupesAndIsAddressedByContent(t *testing.T) {
	st := openTemp(t)
	data := []byte("some image bytes")
	sha, err := st.PutBlob(data)
	if err != nil {
		t.Fatal(err)
	}
	if sha != SHA256(data) || !ValidSHA256(sha) {
		t.Fatalf("PutBlob returned %q, want %q", sha, SHA256(data))
	}
	want := filepath.Join(st.Dir(), "blobs", sha[:2], sha)
	if st.BlobPath(sha) != want {
		t.Fatalf("BlobPath = %q, want %q", st.BlobPath(sha), want)
	}
	info1, _ := os.Stat(want)
	if sha2, err := st.PutBlob(data); err != nil || sha2 != sha {
		t.Fatalf("second PutBlob: %q %v", sha2, err)
	}
	info2, _ := os.Stat(want)
	if !info1.ModTime().Equal(info2.ModTime()) {
		t.Errorf("second PutBlob rewrote the blob")
	}
	got, err := st.ReadBlob(sha)
	if err != nil || string(got) != string(data) {
		t.Fatalf("ReadBlob = %q, %v", got, err)
	}
	if left, _ := os.ReadDir(filepath.Join(st.Dir(), "tmp")); len(left) != 0 {
		t.Errorf("tmp holds %d leftover files", len(left))
	}
	if err := st.PutThumb("not-a-sha", []byte{1}); err == nil {
		t.Errorf("PutThumb accepted a bad key")
	}
}

func TestInputsFilterByLabel(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	err := st.Tx(ctx, func(tx *Tx) error {
		dog, _, _ := tx.EnsureConcept(ctx, "dog")
		cat, _, _ := tx.EnsureConcept(ctx, "cat")
		for i := 1; i <= 5; i++ {
			id, _, err := tx.InsertInput(ctx, Input{SHA256: fakeSHA(i), FileName: "f", Source: "s", Width: 1, Height: 1, Format: "png", Bytes: 1})
			if err != nil {
				return err
			}
			switch {
			case i <= 2:
				_, err = tx.AddAnnotation(ctx, id, dog.ID, SourceFolder, "dog")
			case i == 3:
				_, err = tx.AddAnnotation(ctx, id, cat.ID, SourceManual, "")
				if err == nil {
					_, err = tx.AddAnnotation(ctx, id, dog.ID, SourceManual, "")
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dogs, _ := st.Inputs(ctx, InputFilter{Concept: "dog"})
	unl, _ := st.Inputs(ctx, InputFilter{Unlabelled: true})
	all, _ := st.Inputs(ctx, InputFilter{})
	if len(dogs) != 3 || len(unl) != 2 || len(all) != 5 {
		t.Fatalf("dog %d, unlabelled %d, all %d; want 3, 2, 5", len(dogs), len(unl), len(all))
	}
	if !reflect.DeepEqual(all[2].Labels, []string{"cat", "dog"}) {
		t.Errorf("labels of input 3 = %v, want [cat dog]", all[2].Labels)
	}
	cs, _ := st.Concepts(ctx)
	if len(cs) != 2 || cs[0].Name != "cat" || cs[0].Inputs != 1 || cs[1].Inputs != 3 {
		t.Errorf("Concepts = %+v", cs)
	}
}

// fill10k creates an app with 10,000 inputs, half of them labelled.
func fill10k(b testing.TB, dir string) {
	st, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	err = st.Tx(ctx, func(tx *Tx) error {
		c, _, err := tx.EnsureConcept(ctx, "dog")
		if err != nil {
			return err
		}
		for i := 0; i < 10000; i++ {
			id, _, err := tx.InsertInput(ctx, Input{SHA256: fakeSHA(i), FileName: "f.jpg", Source: "/f.jpg", Width: 640, Height: 480, Format: "jpeg", Bytes: 50000})
			if err != nil {
				return err
			}
			if i%2 == 0 {
				if _, err := tx.AddAnnotation(ctx, id, c.ID, SourceFolder, "dog"); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpen10k measures opening (and closing) an app with 10,000 inputs; the target is under 100 ms.
func BenchmarkOpen10k(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "app")
	fill10k(b, dir)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		// A first query, so the connection is really established.
		if _, err := st.CountInputs(context.Background()); err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOpen10kKeepsData(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 10k rows")
	}
	dir := filepath.Join(t.TempDir(), "app")
	fill10k(t, dir)
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.CountInputs(context.Background())
	if err != nil || n != 10000 {
		t.Fatalf("CountInputs = %d, %v; want 10000", n, err)
	}
}

func TestDeleteModelKeepsTheTestSplitHistory(t *testing.T) {
	st := openTemp(t)
	ctx := context.Background()
	put := func(name string) int64 {
		var id int64
		if err := st.Tx(ctx, func(tx *Tx) (err error) {
			id, err = tx.PutModel(ctx, Model{Name: name, Kind: "head", Family: "linear", Dataset: "ds", Version: 1, Dir: "models/" + name, Classes: []string{"a", "b"}, Status: "done"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	addEval := func(id int64, split Split) {
		if err := st.Tx(ctx, func(tx *Tx) error {
			_, err := tx.AddEvaluation(ctx, Evaluation{ModelID: id, Dataset: "ds", Version: 1, Split: split, Report: []byte("{}"), Predictions: []byte("{}")})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	del := func(name string) (kept bool) {
		if err := st.Tx(ctx, func(tx *Tx) (err error) { kept, err = tx.DeleteModel(ctx, name); return err }); err != nil {
			t.Fatalf("DeleteModel(%q): %v", name, err)
		}
		return kept
	}
	// A model never evaluated on test goes entirely, its validation evaluations with it.
	plain := put("plain")
	addEval(plain, Validation)
	if del("plain") {
		t.Error("a model without test evaluations was kept")
	}
	if _, err := st.ModelByID(ctx, plain); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted model still readable by id: %v", err)
	}
	if evs, _ := st.Evaluations(ctx, plain, "", 0, ""); len(evs) != 0 {
		t.Errorf("%d evaluations of a deleted model remain", len(evs))
	}
	// A tested model leaves a renamed, deleted record holding its test evaluations only.
	tested := put("tested")
	addEval(tested, Validation)
	addEval(tested, Test)
	if err := st.Tx(ctx, func(tx *Tx) error {
		_, err := tx.AddSelection(ctx, Selection{Dataset: "ds", Version: 1, Split: Validation, Metric: "accuracy", ModelID: tested, Ranking: []byte("[]")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !del("tested") {
		t.Error("a tested model's record was not kept")
	}
	if _, err := st.Model(ctx, "tested"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Model(tested) after delete: %v, want ErrNotFound", err)
	}
	if ms, _ := st.Models(ctx); len(ms) != 0 {
		t.Errorf("Models lists deleted models: %+v", ms)
	}
	old, err := st.ModelByID(ctx, tested)
	if err != nil || old.Name != fmt.Sprintf("tested"+DeletedSuffix, tested) {
		t.Fatalf("deleted tested model by id: %+v %v", old, err)
	}
	if evs, _ := st.Evaluations(ctx, 0, "ds", 1, Test); len(evs) != 1 || evs[0].ModelID != tested {
		t.Errorf("test evaluations after delete: %+v, want the one of model %d", evs, tested)
	}
	if evs, _ := st.Evaluations(ctx, tested, "", 0, Validation); len(evs) != 0 {
		t.Errorf("validation evaluations of a deleted model remain: %d", len(evs))
	}
	if sel, err := st.LatestSelection(ctx, "ds", 1); err != nil || sel.ModelID != tested {
		t.Errorf("the selection of the deleted model: %+v %v", sel, err)
	}
	// The name is free again, and replacing a tested model through PutModel keeps its test record too.
	again := put("tested")
	addEval(again, Test)
	put("tested")
	if evs, _ := st.Evaluations(ctx, 0, "ds", 1, Test); len(evs) != 2 {
		t.Errorf("test evaluations after PutModel replaced a tested model: %d, want 2", len(evs))
	}
	if err := st.Tx(ctx, func(tx *Tx) error { _, err := tx.DeleteModel(ctx, "nope"); return err }); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteModel(nope): %v, want ErrNotFound", err)
	}
}

// TestPerceptualHashesRoundTrip: hashes with the top bit set survive SQLite's signed integers.
func TestPerceptualHashesRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := Open(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var id int64
	if err := st.Tx(ctx, func(tx *Tx) error {
		var err error
		id, _, err = tx.InsertInput(ctx, Input{SHA256: fakeSHA(1), FileName: "a", Source: "a", Width: 1, Height: 1, Format: "png", Bytes: 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := PerceptualHash{Hash: 1<<63 | 5, Mirror: ^uint64(0)}
	if err := st.Tx(ctx, func(tx *Tx) error { return tx.PutPerceptualHashes(ctx, []int64{id}, []PerceptualHash{want}) }); err != nil {
		t.Fatal(err)
	}
	got, err := st.PerceptualHashes(ctx)
	if err != nil || len(got) != 1 || got[id] != want {
		t.Fatalf("read back %v, %v; want %v", got, err, want)
	}
	if err := st.Tx(ctx, func(tx *Tx) error { return tx.PutPerceptualHashes(ctx, []int64{id}, nil) }); err == nil {
		t.Fatal("1 id and 0 hashes: no error")
	}
}

// Package store holds an app's data on disk: an SQLite database (app.db) with inputs, concepts,
// annotations and dataset versions, a content-addressed image store (blobs/ab/<sha256>) and JPEG
// thumbnails (thumbs/ab/<sha256>.jpg).
//
// Opening is cheap: it applies pending schema migrations and nothing else (no scan of blobs or rows).
// Every multi-step write runs in one transaction (see [Store.Tx]). Blobs are written before the rows that
// refer to them, through a temporary file, fsync and rename, so an interrupted write leaves either no
// blob or a whole one, and a blob without a row is simply reused by the next upload.
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/visionnb/visionnb/mlkit/internal/atomicfile"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver.
)

// DBFileName is the name of the SQLite database inside an app directory.
const DBFileName = "app.db"

// Store is an open app directory. It is safe for concurrent use.
type Store struct {
	dir string
	db  *sql.DB
}

// ErrNotApp is wrapped when a folder that exists and holds other files is opened as an app: an app is
// never created inside, say, a photo folder given by mistake.
var ErrNotApp = errors.New("not an mlkit app")

// IsApp reports whether dir holds an app (its database file).
func IsApp(dir string) (bool, error) {
	st, err := os.Stat(filepath.Join(dir, DBFileName))
	switch {
	case err == nil:
		return st.Mode().IsRegular(), nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("store: looking for an app in %q: %w", dir, err)
	}
}

// appLayout names what Open creates in an app folder; a folder holding only these (an interrupted
// creation) may still become an app.
var appLayout = map[string]bool{"blobs": true, "thumbs": true, "tmp": true, DBFileName: true,
	DBFileName + "-wal": true, DBFileName + "-shm": true, DBFileName + "-journal": true}

// checkCreatable refuses an existing folder with other files in it and no app database (ErrNotApp).
func checkCreatable(dir string) error {
	if ok, err := IsApp(dir); err != nil || ok {
		return err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: reading %q: %w", dir, err)
	}
	for _, e := range entries {
		if !appLayout[e.Name()] {
			return fmt.Errorf("store: %q already exists, holds other files (%s...) and no %s: %w; choose a new folder or name",
				dir, e.Name(), DBFileName, ErrNotApp)
		}
	}
	return nil
}

// Open opens the app directory dir, creating it (and its database) when missing or empty, and applies
// pending schema migrations. A folder that exists with other files and no database is refused
// (ErrNotApp) rather than turned into an app.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: resolving app directory %q: %w", dir, err)
	}
	if err := checkCreatable(abs); err != nil {
		return nil, err
	}
	for _, d := range []string{abs, filepath.Join(abs, "blobs"), filepath.Join(abs, "thumbs"), filepath.Join(abs, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("store: creating %q: %w", d, err)
		}
	}
	dsn := (&url.URL{Scheme: "file", Path: filepath.Join(abs, DBFileName)}).String() + "?" + url.Values{
		"_pragma": {"foreign_keys(1)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"},
		"_txlock": {"immediate"},
	}.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: opening database in %q: %w", abs, err)
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	s := &Store{dir: abs, db: db}
	if err := s.migrate(context.Background()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: migrating %q: %w", filepath.Join(abs, DBFileName), err)
	}
	return s, nil
}

// Close closes the database. Blobs need no closing.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: closing %q: %w", s.dir, err)
	}
	return nil
}

// Dir returns the absolute path of the app directory.
func (s *Store) Dir() string { return s.dir }

// DB returns the underlying database, for packages that add their own tables through migrations.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var current int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this program knows (%d)", current, len(migrations))
	}
	for i := current; i < len(migrations); i++ {
		m := migrations[i]
		err := s.Tx(ctx, func(tx *Tx) error {
			// Re-check inside the write lock: another process may have migrated meanwhile.
			var done int
			if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, i+1).Scan(&done); err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			if _, err := tx.tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)`, i+1, m.Name, Now())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", i+1, m.Name, err)
		}
	}
	return nil
}

// AppliedMigrations returns the versions recorded in schema_migrations, in order.
func (s *Store) AppliedMigrations(ctx context.Context) ([]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("store: listing migrations: %w", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: listing migrations: %w", err)
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// Tx runs fn in one write transaction, committing when fn returns nil and rolling back otherwise.
func (s *Store) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: beginning transaction: %w", err)
	}
	if err := fn(&Tx{tx: sqlTx}); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: committing transaction: %w", err)
	}
	return nil
}

// Tx is a write transaction; see [Store.Tx].
type Tx struct{ tx *sql.Tx }

// SQL returns the underlying transaction, for packages that write their own tables.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// TimeFormat is how times are stored: fixed-width UTC, so text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// Now returns the current time formatted with [TimeFormat].
func Now() string { return time.Now().UTC().Format(TimeFormat) }

// ParseTime parses a time stored with [TimeFormat]; the zero time for "".
func ParseTime(s string) time.Time {
	t, _ := time.Parse(TimeFormat, s)
	return t
}

// SHA256 returns the lowercase hex SHA-256 of data, the key of blobs and inputs.
func SHA256(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// ValidSHA256 reports whether sha is 64 lowercase hex digits.
func ValidSHA256(sha string) bool {
	if len(sha) != 64 {
		return false
	}
	for _, c := range sha {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// BlobPath returns where the original bytes of the image with this SHA-256 live: blobs/ab/<sha256>.
func (s *Store) BlobPath(sha string) string {
	return filepath.Join(s.dir, "blobs", shard(sha), sha)
}

// ThumbPath returns where the JPEG thumbnail of the image with this SHA-256 lives: thumbs/ab/<sha256>.jpg.
func (s *Store) ThumbPath(sha string) string {
	return filepath.Join(s.dir, "thumbs", shard(sha), sha+".jpg")
}

func shard(sha string) string {
	if len(sha) < 2 {
		return "__"
	}
	return sha[:2]
}

// HasBlob reports whether the blob with this SHA-256 is stored.
func (s *Store) HasBlob(sha string) bool {
	st, err := os.Stat(s.BlobPath(sha))
	return err == nil && st.Mode().IsRegular()
}

// PutBlob stores data under its SHA-256 and returns the hash. A blob already present is left as is
// (content addressing makes it identical), so PutBlob is idempotent.
func (s *Store) PutBlob(data []byte) (string, error) {
	sha := SHA256(data)
	if s.HasBlob(sha) {
		return sha, nil
	}
	if err := s.writeAtomic(s.BlobPath(sha), data); err != nil {
		return "", fmt.Errorf("store: writing blob %s: %w", sha, err)
	}
	return sha, nil
}

// PutThumb stores the JPEG thumbnail of the image sha, replacing any previous one.
func (s *Store) PutThumb(sha string, jpeg []byte) error {
	if !ValidSHA256(sha) {
		return fmt.Errorf("store: thumbnail key %q is not a SHA-256", sha)
	}
	if err := s.writeAtomic(s.ThumbPath(sha), jpeg); err != nil {
		return fmt.Errorf("store: writing thumbnail %s: %w", sha, err)
	}
	return nil
}

// ReadBlob returns the original bytes of the image sha.
func (s *Store) ReadBlob(sha string) ([]byte, error) {
	data, err := os.ReadFile(s.BlobPath(sha))
	if err != nil {
		return nil, fmt.Errorf("store: reading blob %s: %w", sha, err)
	}
	return data, nil
}

// writeAtomic writes data to a temporary file in the app's tmp folder, fsyncs it, renames it into place
// and fsyncs the directory.
func (s *Store) writeAtomic(path string, data []byte) error {
	return atomicfile.Write(path, atomicfile.Options{TempDir: filepath.Join(s.dir, "tmp"), Sync: true}, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// CleanTemp removes leftover partial files of interrupted writes older than olderThan (so that writes in
// flight in another process are left alone). It is not called by Open, to keep opening cheap.
func (s *Store) CleanTemp(olderThan time.Duration) error {
	entries, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if err != nil {
		return fmt.Errorf("store: listing tmp: %w", err)
	}
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !isTempFile(e.Name()) || time.Since(info.ModTime()) < olderThan {
			continue
		}
		{
			if err := os.Remove(filepath.Join(s.dir, "tmp", e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// isTempFile says whether name is a temporary file of an atomic write (".part" is what versions before
// atomicfile left).
func isTempFile(name string) bool {
	return strings.HasSuffix(name, atomicfile.TempSuffix) || strings.HasSuffix(name, ".part")
}

package store

import (
	"context"
	"fmt"
)

// PerceptualHash is an input's perceptual hash and the hash of its mirror image (see package phash),
// computed from its thumbnail.
type PerceptualHash struct {
	Hash, Mirror uint64
}

// PutPerceptualHashes stores (or replaces) the perceptual hashes of several inputs.
func (t *Tx) PutPerceptualHashes(ctx context.Context, ids []int64, hashes []PerceptualHash) error {
	if len(ids) != len(hashes) {
		return fmt.Errorf("store: %d ids but %d perceptual hashes", len(ids), len(hashes))
	}
	stmt, err := t.tx.PrepareContext(ctx, `INSERT OR REPLACE INTO perceptual_hashes(input_id, hash, mirror) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store: preparing perceptual hashes insert: %w", err)
	}
	defer stmt.Close()
	for i, id := range ids {
		// SQLite integers are signed 64-bit: the bits are stored as they are.
		if _, err := stmt.ExecContext(ctx, id, int64(hashes[i].Hash), int64(hashes[i].Mirror)); err != nil {
			return fmt.Errorf("store: saving the perceptual hash of input %d: %w", id, err)
		}
	}
	return nil
}

// PerceptualHashes returns every stored perceptual hash by input id; inputs without one are absent.
func (s *Store) PerceptualHashes(ctx context.Context) (map[int64]PerceptualHash, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT input_id, hash, mirror FROM perceptual_hashes`)
	if err != nil {
		return nil, fmt.Errorf("store: reading perceptual hashes: %w", err)
	}
	defer rows.Close()
	out := map[int64]PerceptualHash{}
	for rows.Next() {
		var id, h, m int64
		if err := rows.Scan(&id, &h, &m); err != nil {
			return nil, fmt.Errorf("store: reading perceptual hashes: %w", err)
		}
		out[id] = PerceptualHash{Hash: uint64(h), Mirror: uint64(m)}
	}
	return out, rows.Err()
}

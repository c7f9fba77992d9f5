package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
)

// EncodeVector packs a float32 vector as little-endian bytes, the embeddings table's BLOB format.
func EncodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// DecodeVector unpacks a BLOB written by EncodeVector.
func DecodeVector(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("store: embedding blob of %d bytes is not a float32 vector", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// PutEmbeddings stores (or replaces) the vectors of several inputs for one model.
func (t *Tx) PutEmbeddings(ctx context.Context, model string, ids []int64, vectors [][]float32) error {
	if len(ids) != len(vectors) {
		return fmt.Errorf("store: %d ids but %d embeddings", len(ids), len(vectors))
	}
	stmt, err := t.tx.PrepareContext(ctx, `INSERT OR REPLACE INTO embeddings(input_id, model, dim, vector, created_at) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store: preparing embeddings insert: %w", err)
	}
	defer stmt.Close()
	now := Now()
	for i, id := range ids {
		if _, err := stmt.ExecContext(ctx, id, model, len(vectors[i]), EncodeVector(vectors[i]), now); err != nil {
			return fmt.Errorf("store: saving the %s embedding of input %d: %w", model, id, err)
		}
	}
	return nil
}

// Embeddings returns the cached vectors of one model for the given inputs (all cached inputs when ids is
// nil), as a map from input id. Inputs without a cached vector are simply absent.
func (s *Store) Embeddings(ctx context.Context, model string, ids []int64) (map[int64][]float32, error) {
	out := map[int64][]float32{}
	q := `SELECT input_id, vector FROM embeddings WHERE model = ?`
	args := []any{model}
	if ids != nil {
		if len(ids) == 0 {
			return out, nil
		}
		q += ` AND input_id IN (` + placeholders(len(ids)) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading %s embeddings: %w", model, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var blob []byte
		if err := rows.Scan(&id, &blob); err != nil {
			return nil, fmt.Errorf("store: reading %s embeddings: %w", model, err)
		}
		v, err := DecodeVector(blob)
		if err != nil {
			return nil, fmt.Errorf("store: input %d: %w", id, err)
		}
		out[id] = v
	}
	return out, rows.Err()
}

// EmbeddingModels lists the models that have cached vectors, with their counts.
func (s *Store) EmbeddingModels(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT model, count(*) FROM embeddings GROUP BY model`)
	if err != nil {
		return nil, fmt.Errorf("store: listing embedding models: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var m string
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			return nil, err
		}
		out[m] = n
	}
	return out, rows.Err()
}

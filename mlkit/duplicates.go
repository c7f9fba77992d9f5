package mlkit

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // thumbnails are JPEG
	"os"

	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/phash"
	"github.com/visionnb/visionnb/mlkit/store"
)

// perceptualHashes returns the perceptual hashes of ids' thumbnails, computing and storing the ones the
// store does not hold yet.
func (a *App) perceptualHashes(ids []int64) (map[int64]phash.Pair, error) {
	ctx := context.Background()
	stored, err := a.st.PerceptualHashes(ctx)
	if err != nil {
		return nil, fmt.Errorf("mlkit: %w", err)
	}
	out := make(map[int64]phash.Pair, len(ids))
	var newIDs []int64
	var newHashes []store.PerceptualHash
	for _, id := range ids {
		if h, ok := stored[id]; ok {
			out[id] = phash.Pair{Hash: phash.Hash(h.Hash), Mirror: phash.Hash(h.Mirror)}
			continue
		}
		in, err := a.st.Input(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("mlkit: perceptual hash of input %d: %w", id, err)
		}
		path := a.st.ThumbPath(in.SHA256)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("mlkit: perceptual hash of input %d (%s): reading its thumbnail: %w", id, in.FileName, err)
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("mlkit: perceptual hash of input %d (%s): decoding its thumbnail %s: %w", id, in.FileName, path, err)
		}
		p := phash.Of(img)
		out[id] = p
		newIDs, newHashes = append(newIDs, id), append(newHashes, store.PerceptualHash{Hash: uint64(p.Hash), Mirror: uint64(p.Mirror)})
	}
	if len(newIDs) > 0 {
		if err := a.st.Tx(ctx, func(tx *store.Tx) error { return tx.PutPerceptualHashes(ctx, newIDs, newHashes) }); err != nil {
			return nil, fmt.Errorf("mlkit: storing %d perceptual hashes: %w", len(newIDs), err)
		}
	}
	return out, nil
}

// withHashes fills every split's Hashes with its inputs' perceptual hashes.
func (a *App) withHashes(splits []eval.SplitVectors) error {
	var ids []int64
	for _, s := range splits {
		ids = append(ids, s.IDs...)
	}
	hashes, err := a.perceptualHashes(ids)
	if err != nil {
		return err
	}
	for i := range splits {
		splits[i].Hashes = make([]phash.Pair, len(splits[i].IDs))
		for j, id := range splits[i].IDs {
			splits[i].Hashes[j] = hashes[id]
		}
	}
	return nil
}

package eval

import (
	"fmt"
	"sort"

	"github.com/visionnb/visionnb/mlkit/phash"
	"github.com/visionnb/visionnb/mlkit/search"
)

// SplitVectors is one split's inputs and their embeddings, for the leakage check; Hashes, when not nil,
// are their perceptual hashes (in IDs order), which NearDuplicates combines with the embeddings.
type SplitVectors struct {
	Split   string
	IDs     []int64
	Vectors [][]float32
	Hashes  []phash.Pair
}

// NearDuplicate is a pair of inputs in different splits whose embeddings are nearly identical: the same
// photo (resized, re-encoded, lightly cropped) on both sides of a split leaks the answer to the model.
type NearDuplicate struct {
	SplitA, SplitB string
	A, B           int64
	Similarity     float32
	// HashDistance is the perceptual hashes' distance (mirror images compared too), -1 when the check
	// had no hashes.
	HashDistance int
}

// DefaultLeakageThreshold is the cosine similarity from which two images are near duplicates whatever
// their perceptual hashes. Alone it is not enough: resized, re-encoded, cropped or mirrored copies of a
// photo score 0.875-0.986 on MobileNetV2 embeddings, so most copies fall below it (see DuplicateRule).
const DefaultLeakageThreshold = 0.97

// Leakage is NearDuplicates by embedding similarity alone: every pair at cosine threshold or more.
func Leakage(splits []SplitVectors, threshold float32) ([]NearDuplicate, error) {
	return NearDuplicates(splits, DuplicateRule{Cosine: threshold})
}

// DuplicateRule says which pairs of images are near duplicates: those at cosine Cosine or more, and,
// where perceptual hashes are known, those within hash distance HashDistance whatever their cosine,
// and those within CombinedDistance at cosine CombinedCosine or more. A zero distance or cosine turns
// its clause off.
type DuplicateRule struct {
	Cosine           float32
	HashDistance     int
	CombinedDistance int
	CombinedCosine   float32
}

// DefaultDuplicateRule is the near-duplicate rule calibrated on planted copies of the shared photos
// (TestNearDuplicatesFindPlantedCopies in package mlkit).
//
// Measured there (pHash of the 256 px thumbnail, MobileNetV2-0.35 cosine): resized, JPEG q50, mirrored
// and brightened copies are within 4 bits; 85% crops 8-20 and 4-5 degree rotations 12-22, at cosine
// 0.85 or more. Distinct photos of one class are 10 bits apart or more, and the pairs within 20 bits at
// cosine 0.85 are two real near copies in the shared photos (a cropped puppy photo, a horse shot twice in
// one scene); the closest other pair is two monarch photos at 22 bits, cosine 0.896.
var DefaultDuplicateRule = DuplicateRule{Cosine: DefaultLeakageThreshold, HashDistance: 8, CombinedDistance: 20, CombinedCosine: 0.85}

// match reports whether a pair with cosine s and hash distance d (-1: unknown) is a near duplicate.
func (r DuplicateRule) match(s float32, d int) bool {
	if r.Cosine > 0 && s >= r.Cosine {
		return true
	}
	if d < 0 {
		return false
	}
	return (r.HashDistance > 0 && d <= r.HashDistance) || (r.CombinedDistance > 0 && r.CombinedCosine > 0 && d <= r.CombinedDistance && s >= r.CombinedCosine)
}

// check returns an error when a threshold is out of range.
func (r DuplicateRule) check() error {
	if r.Cosine < 0 || r.Cosine > 1 || r.CombinedCosine < 0 || r.CombinedCosine > 1 {
		return fmt.Errorf("eval: near-duplicate cosine thresholds %v and %v must be in (0,1] (0: off)", r.Cosine, r.CombinedCosine)
	}
	if r.HashDistance < 0 || r.HashDistance > 64 || r.CombinedDistance < 0 || r.CombinedDistance > 64 {
		return fmt.Errorf("eval: near-duplicate hash distances %d and %d must be from 0 to 64", r.HashDistance, r.CombinedDistance)
	}
	if r.Cosine == 0 && r.HashDistance == 0 && (r.CombinedDistance == 0 || r.CombinedCosine == 0) {
		return fmt.Errorf("eval: near-duplicate rule %+v matches nothing", r)
	}
	return nil
}

// NearDuplicates reports every pair of inputs from two different splits that rule calls near duplicates
// (by embedding cosine, and by perceptual hash where the splits carry hashes), most similar first. Exact duplicates never appear (the store keeps one copy of each
// content), so what is found are visually equal images with different bytes.
func NearDuplicates(splits []SplitVectors, rule DuplicateRule) ([]NearDuplicate, error) {
	if err := rule.check(); err != nil {
		return nil, err
	}
	for _, sp := range splits {
		if sp.Hashes != nil && len(sp.Hashes) != len(sp.IDs) {
			return nil, fmt.Errorf("eval: leakage: split %q has %d hashes for %d inputs", sp.Split, len(sp.Hashes), len(sp.IDs))
		}
	}
	var out []NearDuplicate
	for a := 0; a < len(splits); a++ {
		ix, err := search.NewIndex(splits[a].IDs, splits[a].Vectors)
		if err != nil {
			return nil, fmt.Errorf("eval: leakage index of split %q: %w", splits[a].Split, err)
		}
		for b := a + 1; b < len(splits); b++ {
			for j, v := range splits[b].Vectors {
				scores, err := ix.Scores(v)
				if err != nil {
					return nil, fmt.Errorf("eval: leakage %q vs %q: %w", splits[a].Split, splits[b].Split, err)
				}
				for i, s := range scores {
					d := -1
					if splits[a].Hashes != nil && splits[b].Hashes != nil {
						d = splits[a].Hashes[i].Distance(splits[b].Hashes[j])
					}
					if rule.match(s, d) {
						out = append(out, NearDuplicate{SplitA: splits[a].Split, SplitB: splits[b].Split,
							A: splits[a].IDs[i], B: splits[b].IDs[j], Similarity: s, HashDistance: d})
					}
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Similarity > out[j].Similarity })
	return out, nil
}

package eval

import (
	"testing"

	"github.com/visionnb/visionnb/mlkit/phash"
)

// TestNearDuplicatesCombinesHashAndCosine: with hashes, a pair is found by a close hash alone, by a
// looser hash with a high enough cosine, or by a very high cosine; without hashes only the cosine counts.
func TestNearDuplicatesCombinesHashAndCosine(t *testing.T) {
	unit := func(c float32) []float32 { return []float32{c, sqrt1m(c)} } // cosine c with (1, 0)
	rule := DuplicateRule{Cosine: 0.97, HashDistance: 8, CombinedDistance: 20, CombinedCosine: 0.85}
	train := SplitVectors{Split: "train", IDs: []int64{1}, Vectors: [][]float32{{1, 0}}, Hashes: []phash.Pair{{Hash: 0, Mirror: ^phash.Hash(0)}}}
	bits := func(n int) phash.Hash { return phash.Hash(1)<<uint(n) - 1 }
	test := SplitVectors{Split: "test", IDs: []int64{10, 11, 12, 13, 14},
		Vectors: [][]float32{unit(0.5), unit(0.9), unit(0.9), unit(0.98), unit(0.8)},
		Hashes: []phash.Pair{{Hash: bits(6), Mirror: bits(6)}, {Hash: bits(18), Mirror: bits(18)}, {Hash: bits(30), Mirror: bits(30)},
			{Hash: bits(40), Mirror: bits(40)}, {Hash: bits(12), Mirror: bits(12)}}}
	pairs, err := NearDuplicates([]SplitVectors{train, test}, rule)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]int{}
	for _, p := range pairs {
		got[p.B] = p.HashDistance
	}
	// 10: hash 6 bits; 11: 18 bits at cosine 0.9; 13: cosine 0.98. Not 12 (30 bits) nor 14 (cosine 0.8).
	if len(got) != 3 || got[10] != 6 || got[11] != 18 || got[13] != 40 {
		t.Fatalf("pairs %+v, want inputs 10, 11 and 13", pairs)
	}
	if pairs[0].B != 13 {
		t.Errorf("most similar first: %+v", pairs)
	}
	// Without hashes: the cosine alone, distance -1.
	train.Hashes, test.Hashes = nil, nil
	pairs, err = NearDuplicates([]SplitVectors{train, test}, rule)
	if err != nil || len(pairs) != 1 || pairs[0].B != 13 || pairs[0].HashDistance != -1 {
		t.Fatalf("without hashes: %+v, %v; want input 13 only", pairs, err)
	}
	for _, bad := range []DuplicateRule{{}, {Cosine: 1.5}, {HashDistance: 65}, {CombinedDistance: 10}} {
		if _, err := NearDuplicates([]SplitVectors{train, test}, bad); err == nil {
			t.Errorf("rule %+v: no error", bad)
		}
	}
	test.Hashes = []phash.Pair{{}}
	train.Hashes = []phash.Pair{{}}
	if _, err := NearDuplicates([]SplitVectors{train, test}, rule); err == nil {
		t.Error("1 hash for 5 inputs: no error")
	}
}

func sqrt1m(c float32) float32 {
	x := 1 - c*c
	r := x
	for range 30 {
		r = (r + x/r) / 2
	}
	return r
}

// TestDuplicateGroupsChainsPairs: pairs chain into groups (1~2 by hash, 2~3 by cosine makes {1,2,3});
// singletons are left out; hashes alone use only the hash clauses; neither is an error.
func TestDuplicateGroupsChainsPairs(t *testing.T) {
	rule := DuplicateRule{Cosine: 0.97, HashDistance: 8, CombinedDistance: 20, CombinedCosine: 0.85}
	bits := func(n int) phash.Hash { return phash.Hash(1)<<uint(n) - 1 }
	pair := func(h phash.Hash) phash.Pair { return phash.Pair{Hash: h, Mirror: h} }
	set := SplitVectors{IDs: []int64{1, 2, 3, 4, 5, 6},
		Vectors: [][]float32{{1, 0}, {0.6, 0.8}, {0.6, 0.8}, {0, 1}, {-1, 0}, {-1, 0.01}},
		Hashes:  []phash.Pair{pair(0), pair(bits(4)), pair(bits(60)), pair(bits(30)), pair(bits(45) << 19), pair(bits(40))}}
	groups, err := DuplicateGroups(set, rule)
	if err != nil {
		t.Fatal(err)
	}
	// 1~2: hash 4 bits; 2~3: cosine 1; 5~6: cosine 0.99995; 4 alone (cosine 0.8 to 2 and 3, hashes far).
	if len(groups) != 2 || len(groups[0]) != 3 || groups[0][0] != 1 || groups[0][2] != 3 || len(groups[1]) != 2 || groups[1][0] != 5 {
		t.Fatalf("groups %v, want [1 2 3] and [5 6]", groups)
	}
	set.Vectors = nil
	if groups, err = DuplicateGroups(set, rule); err != nil || len(groups) != 1 || len(groups[0]) != 2 || groups[0][1] != 2 {
		t.Fatalf("hashes alone: groups %v (%v), want [1 2]", groups, err)
	}
	set.Hashes = nil
	if _, err := DuplicateGroups(set, rule); err == nil {
		t.Fatal("neither vectors nor hashes: no error")
	}
}

package view

import "testing"

func TestCount(t *testing.T) {
	for _, c := range []struct {
		n    int
		noun string
		want string
	}{
		{1, "image", "1 image"},
		{0, "image", "0 images"},
		{2, "image", "2 images"},
		{1, "near-duplicate pair", "1 near-duplicate pair"},
		{5, "near-duplicate pair", "5 near-duplicate pairs"},
		{2, "class", "2 classes"},
		{3, "entry", "3 entries"},
		{3, "day", "3 days"},
		{4, "match", "4 matches"},
		{3, "epoch", "3 epochs"},
		{1, "epoch", "1 epoch"},
		{1, "loss", "1 loss"},
		{6, "loss", "6 losses"},
	} {
		if got := Count(c.n, c.noun); got != c.want {
			t.Errorf("Count(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}

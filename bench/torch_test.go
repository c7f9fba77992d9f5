package main

import "testing"

// TestTorchInfoWantVersions checks that the bench accepts the pinned torch/torchvision whatever their local
// build suffix, and reinstalls for any other version (Debian's 1.13, a newer pip release).
func TestTorchInfoWantVersions(t *testing.T) {
	for _, c := range []struct {
		torch, vision string
		want          bool
	}{
		{"2.15.0+cu132", "0.29.2+cu132", true},
		{"2.15.0", "0.29.2", true},
		{"2.15.0+cpu", "0.29.2+cpu", true},
		{"1.13.0", "0.14.1", false},
		{"2.15.1", "0.29.2", false},
		{"2.15.0", "0.29.3", false},
		{"", "", false},
	} {
		if got := (torchInfo{Torch: c.torch, Torchvision: c.vision}).wantVersions(); got != c.want {
			t.Errorf("torch %q torchvision %q: wantVersions() = %v, want %v", c.torch, c.vision, got, c.want)
		}
	}
}

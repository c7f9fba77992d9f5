// Package testshared lets tests use the read-only ../shared folder (real photos and weights) and skip
// with a clear message where it is absent.
package testshared

import (
	"testing"

	"github.com/visionnb/visionnb/mlkit/assets"
)

// Path returns the path of elem inside the shared folder, or skips the test saying what is missing.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	p, ok := assets.SharedPath(elem...)
	if !ok {
		t.Skipf("skipping: shared test material %q not found (put the project's shared/ folder beside the repository or set %s)", p, assets.SharedEnv)
	}
	return p
}

// Animals5 returns the folder of real animal photos (one sub-folder per class), or skips.
func Animals5(t testing.TB) string { return Path(t, "data", "animals5") }

// MobileNetV2 returns the TF.js MobileNetV2 alpha 0.35 model folder, or skips.
func MobileNetV2(t testing.TB) string { return Path(t, "models", "mobilenet_v2_035_tfjs") }

// CLIPTokenizer returns the folder with CLIP's BPE vocabulary and tokenizer.json, or skips.
func CLIPTokenizer(t testing.TB) string { return Path(t, "models", "clip_tokenizer") }

package purego_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/backend/purego"
)

// TestSIMDEnvPicksKernel runs this test binary again with each MLKIT_SIMD value and checks which block
// kernel the new process chose (the variable is read once, at init).
func TestSIMDEnvPicksKernel(t *testing.T) {
	if os.Getenv("MLKIT_SIMD_HELPER") == "1" {
		os.Stdout.WriteString("kernel=" + purego.SIMDKernel() + "\n")
		return
	}
	avail := purego.KernelsForTest()
	has := func(k string) bool {
		for _, a := range avail {
			if a == k {
				return true
			}
		}
		return false
	}
	best := avail[len(avail)-1]
	if os.Getenv(purego.SIMDEnv) != "" {
		t.Skipf("%s is set in this process; the kernel list is not this CPU's", purego.SIMDEnv)
	}
	want := map[string]string{"0": "generic", "off": "generic", "": best, "auto": best, "avx512": best, "avx2": "generic"}
	if has("avx2") {
		want["avx2"] = "avx2"
	}
	for env, k := range want {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIMDEnvPicksKernel$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MLKIT_SIMD_HELPER=1", purego.SIMDEnv+"="+env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s=%q: %v\n%s", purego.SIMDEnv, env, err, out)
		}
		if !strings.Contains(string(out), "kernel="+k+"\n") {
			t.Errorf("%s=%q: want kernel %s, the process said:\n%s", purego.SIMDEnv, env, k, out)
		}
	}
}

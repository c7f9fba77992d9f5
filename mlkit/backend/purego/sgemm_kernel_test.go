package purego

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSIMDMicroKernels calls each micro-kernel this CPU runs directly (AVX2 4x16, AVX-512 8x32) with
// contraction lengths that are zero, odd, shorter and longer than a block, and row strides wider than the
// tile, against float64 arithmetic; it also checks that nothing outside the output tile is written.
func TestSIMDMicroKernels(t *testing.T) {
	type micro struct {
		kernel     simdKernel
		rows, cols int
		fn         func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)
	}
	var kernels []micro
	if haveAVX2Kernel {
		kernels = append(kernels, micro{kernelAVX2, 4, 16, kernel4x16})
	}
	if haveAVX512Kernel {
		kernels = append(kernels, micro{kernelAVX512, 8, 32, kernel8x32avx512})
	}
	if len(kernels) == 0 {
		t.Skip("this CPU runs no SIMD kernel")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, m := range kernels {
		for _, k := range []int{0, 1, 2, 3, 7, 16, 31, 32, 33, 100} {
			lda, ldb, ldc := k+3, m.cols+5, m.cols+7
			a := make([]float32, m.rows*lda+1)
			b := make([]float32, max(k, 1)*ldb)
			c := make([]float32, m.rows*ldc)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			for i := range c {
				c[i] = float32(rng.NormFloat64())
			}
			want := make([]float64, len(c))
			mag := make([]float64, len(c))
			for i := range m.rows {
				for j := range ldc {
					idx := i*ldc + j
					want[idx] = float64(c[idx])
					mag[idx] = math.Abs(want[idx])
					if j >= m.cols {
						continue
					}
					for p := range k {
						x := float64(a[i*lda+p]) * float64(b[p*ldb+j])
						want[idx] += x
						mag[idx] += math.Abs(x)
					}
				}
			}
			m.fn(k, &a[0], lda, &b[0], ldb, &c[0], ldc)
			for i := range m.rows {
				for j := range ldc {
					idx := i*ldc + j
					if j >= m.cols {
						if float64(c[idx]) != want[idx] {
							t.Fatalf("%s k=%d: C[%d][%d], outside the %dx%d tile, changed", m.kernel, k, i, j, m.rows, m.cols)
						}
						continue
					}
					if e := math.Abs(float64(c[idx])-want[idx]) / (mag[idx] + 1e-6); e > 1e-6 {
						t.Fatalf("%s k=%d: C[%d][%d] = %g, want %g (relative error %g)", m.kernel, k, i, j, c[idx], want[idx], e)
					}
				}
			}
		}
	}
}

// TestKernelFromEnv checks how MLKIT_SIMD's values pick a kernel, including fallbacks on a CPU without one.
func TestKernelFromEnv(t *testing.T) {
	best := bestKernel(kernelAVX512)
	for _, c := range []struct {
		env  string
		want simdKernel
		ok   bool
	}{
		{"", best, true}, {"1", best, true}, {"auto", best, true}, {"0", kernelGeneric, true}, {"off", kernelGeneric, true},
		{"avx2", bestKernel(kernelAVX2), true}, {"AVX512", best, true}, {"avx-512", best, false},
	} {
		got, ok := kernelFromEnv(c.env)
		if got != c.want || ok != c.ok {
			t.Errorf("kernelFromEnv(%q) = %s, %v; want %s, %v", c.env, got, ok, c.want, c.ok)
		}
	}
	if haveAVX512Kernel && best != kernelAVX512 {
		t.Errorf("this CPU runs the AVX-512 kernel but the default is %s", best)
	}
	if haveAVX2Kernel && bestKernel(kernelAVX2) != kernelAVX2 {
		t.Errorf("this CPU runs the AVX2 kernel but MLKIT_SIMD=avx2 gives %s", bestKernel(kernelAVX2))
	}
}

// TestBlockKernelSizes runs blockKernel, as simplego calls it, for block sizes 16 (the AVX-512 tile does not
// divide it: AVX2 runs), 32 (simplego's float32 block) and 64, on non-first blocks, against float64.
func TestBlockKernelSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range []simdKernel{kernelAVX2, kernelAVX512} {
		if !k.available() {
			continue
		}
		for _, dim := range []int{16, 32, 64} {
			bs := dim * dim
			lhs, rhs, out := make([]float32, 3*bs), make([]float32, 2*bs), make([]float32, 2*bs)
			for _, s := range [][]float32{lhs, rhs, out} {
				for i := range s {
					s[i] = float32(rng.NormFloat64())
				}
			}
			a, b := lhs[2*bs:], rhs[bs:]
			want := make([]float64, bs)
			for i := range dim {
				for j := range dim {
					want[i*dim+j] = float64(out[bs+i*dim+j])
					for p := range dim {
						want[i*dim+j] += float64(a[i*dim+p]) * float64(b[j*dim+p])
					}
				}
			}
			before := append([]float32(nil), out[:bs]...)
			fn := blockKernel(k, lhs, rhs, out, dim)
			if fn == nil {
				t.Fatalf("%s: no block kernel for blocks of %d", k, dim)
			}
			fn(2, 1, 1)
			for i := range bs {
				if e := math.Abs(float64(out[bs+i]) - want[i]); e > 1e-4*(1+math.Abs(want[i])) {
					t.Fatalf("%s, blocks of %d: element %d = %g, want %g", k, dim, i, out[bs+i], want[i])
				}
				if out[i] != before[i] {
					t.Fatalf("%s, blocks of %d: output block 0 changed at %d", k, dim, i)
				}
			}
		}
	}
	if blockKernel(kernelAVX2, make([]float32, 64), make([]float32, 64), make([]float32, 64), 8) != nil {
		t.Error("blocks of 8 (not a multiple of 16) got a SIMD kernel")
	}
}

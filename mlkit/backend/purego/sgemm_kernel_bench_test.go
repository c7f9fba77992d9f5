package purego

import "testing"

// BenchmarkBlockKernel measures the block kernel alone (one 32x32x32 block product, operands in L1) for
// each SIMD kernel this CPU runs; reports GFLOP/s.
func BenchmarkBlockKernel(b *testing.B) {
	const dim = 32
	for _, k := range []simdKernel{kernelAVX2, kernelAVX512} {
		if !k.available() {
			continue
		}
		b.Run(k.String(), func(b *testing.B) {
			lhs, rhs, out := make([]float32, dim*dim), make([]float32, dim*dim), make([]float32, dim*dim)
			for i := range lhs {
				lhs[i], rhs[i] = float32(i%7)*0.1, float32(i%5)*0.1
			}
			fn := blockKernel(k, lhs, rhs, out, dim)
			b.ResetTimer()
			for range b.N {
				fn(0, 0, 0)
			}
			b.ReportMetric(2*dim*dim*dim*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

//go:build !amd64

package purego

// kernel4x16 is only implemented in assembly on amd64; elsewhere simplego's own kernel runs.
func kernel4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	panic("purego: kernel4x16 is only available on amd64")
}

// kernel8x32avx512 is only implemented in assembly on amd64; elsewhere simplego's own kernel runs.
func kernel8x32avx512(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	panic("purego: kernel8x32avx512 is only available on amd64")
}

// haveAVX2Kernel is false off amd64: simplego's own float32 kernel runs.
const haveAVX2Kernel = false

// haveAVX512Kernel is false off amd64: simplego's own float32 kernel runs.
const haveAVX512Kernel = false

// The AVX row functions exist only on amd64; simdRows is never true elsewhere.
func rowVVAVX(op int, out, a, b *float32, n int) {
	panic("purego: rowVVAVX is only available on amd64")
}
func rowVSAVX(op int, out, a *float32, s float32, n int) {
	panic("purego: rowVSAVX is only available on amd64")
}
func rowSVAVX(op int, out *float32, s float32, b *float32, n int) {
	panic("purego: rowSVAVX is only available on amd64")
}
func sqrtAVX(out, x *float32, n int) { panic("purego: sqrtAVX is only available on amd64") }
func signAVX(out, x *float32, n int) { panic("purego: signAVX is only available on amd64") }

// kernel8x32avx512T is only implemented in assembly on amd64.
func kernel8x32avx512T(k int, a *float32, ldk int, b *float32, ldb int, c *float32, ldc int) {
	panic("purego: kernel8x32avx512T is only available on amd64")
}

// transpose8x8AVX is only implemented in assembly on amd64.
func transpose8x8AVX(dst *float32, ldd int, src *float32, lds int) {
	panic("purego: transpose8x8AVX is only available on amd64")
}

// logisticAVX is only implemented in assembly on amd64.
func logisticAVX(out, x *float32, n int) { panic("purego: logisticAVX is only available on amd64") }

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

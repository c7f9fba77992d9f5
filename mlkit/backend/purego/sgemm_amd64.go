package purego

import "golang.org/x/sys/cpu"

// kernel4x16 computes C[0:4][0:16] += A[0:4][0:k] · B[0:k][0:16] (row-major, row strides lda, ldb and
// ldc in elements) with AVX2 FMA instructions. Only call it when haveAVX2Kernel is true.
//
//go:noescape
func kernel4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// kernel8x32avx512 computes C[0:8][0:32] += A[0:8][0:k] · B[0:k][0:32] (row-major, row strides lda, ldb
// and ldc in elements) with AVX-512F instructions. Only call it when haveAVX512Kernel is true.
//
//go:noescape
func kernel8x32avx512(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// haveAVX2Kernel reports whether this CPU runs kernel4x16 (AVX2 and FMA).
var haveAVX2Kernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// haveAVX512Kernel reports whether this CPU (and its operating system, which must save the ZMM registers:
// x/sys/cpu checks XCR0) runs kernel8x32avx512. It also asks for the AVX2 kernel, which handles the block
// sizes the AVX-512 tile does not divide.
var haveAVX512Kernel = cpu.X86.HasAVX512F && haveAVX2Kernel

// kernel8x32avx512T computes C[0:8][0:32] += A · B[0:k][0:32] with A stored depth-major (A[r][p] at
// a[p*ldk+r]: a [K][M] operand read in place), B and C row-major (row strides ldb, ldc), with AVX-512F.
// Only call it when haveAVX512Kernel is true.
//
//go:noescape
func kernel8x32avx512T(k int, a *float32, ldk int, b *float32, ldb int, c *float32, ldc int)

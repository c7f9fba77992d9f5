package purego

import "golang.org/x/sys/cpu"

// kernel4x16 computes C[0:4][0:16] += A[0:4][0:k] · B[0:k][0:16] (row-major, row strides lda, ldb and
// ldc in elements) with AVX2 FMA instructions. Only call it when haveSIMDKernel is true.
//
//go:noescape
func kernel4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// haveSIMDKernel reports whether this CPU runs kernel4x16 (AVX2 and FMA).
var haveSIMDKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

package purego

// rowVVAVX computes out[i] = a[i] op b[i] for i < n (n a multiple of 8; op opAdd..opDiv) with AVX.
//
//go:noescape
func rowVVAVX(op int, out, a, b *float32, n int)

// rowVSAVX computes out[i] = a[i] op s for i < n (n a multiple of 8; op opAdd..opDiv) with AVX.
//
//go:noescape
func rowVSAVX(op int, out, a *float32, s float32, n int)

// rowSVAVX computes out[i] = s op b[i] for i < n (n a multiple of 8; op opAdd..opDiv) with AVX.
//
//go:noescape
func rowSVAVX(op int, out *float32, s float32, b *float32, n int)

// sqrtAVX computes out[i] = sqrt(x[i]) for i < n (n a multiple of 8) with AVX.
//
//go:noescape
func sqrtAVX(out, x *float32, n int)

// signAVX computes out[i] = sign(x[i]) (0 for zeros and NaN) for i < n (n a multiple of 8) with AVX2.
//
//go:noescape
func signAVX(out, x *float32, n int)

// transpose8x8AVX writes the transpose of the 8x8 float32 tile at src (row stride lds elements) to dst (row
// stride ldd) with AVX.
//
//go:noescape
func transpose8x8AVX(dst *float32, ldd int, src *float32, lds int)

package purego

// logisticAVX computes out[i] = 1/(1+exp(-x[i])) for i < n (n a multiple of 4) in float64 lanes with AVX2
// and FMA (see logistic_amd64.s).
//
//go:noescape
func logisticAVX(out, x *float32, n int)

package purego

import (
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Direct float32 matrix products. simplego computes every DotGeneral by copying both operands into
// zero-padded 64x64 blocks, running the block kernel over blocks and copying the blocked output back: on
// a ResNet50 training step those copies, the clearing of the three blocked buffers and the per-product
// transposition the SIMD kernel needs took twice the kernel's own time. When both operands are laid out as
// matrices (batch axes first, then the cross and contracting axes each contiguous, in either order), the
// DotGeneral executor here instead runs the SIMD micro-kernel straight on the operands: a [M][K] left
// operand and a [K][N] right one are read in place, and so is a [K][M] left one with AVX-512 (a
// depth-major variant of the kernel); the other orders ([K][M] with AVX2, [N][K]) are transposed once;
// sizes the tile does not divide are zero-padded once. Everything else (other dtypes and layouts, the
// generic kernel) goes to simplego's executor.

// gemmKC is the contraction block: a tile's right-operand block (gemmKC x 32 float32) stays in L1/L2.
const gemmKC = 256

// directGemmRuns counts the products computed by directGemm (for tests).
var directGemmRuns atomic.Int64

// dotGeneralMirror mirrors simplego's dotGeneralNodeData (checked with sameLayout on first use).
type dotGeneralMirror struct {
	lhsContractingAxes, lhsBatchAxes                       []int
	rhsContractingAxes, rhsBatchAxes                       []int
	batchSize, lhsCrossSize, rhsCrossSize, contractingSize int
	lhsBlockedShape, rhsBlockedShape, outputBlockedShape   shapes.Shape
}

var (
	dotGeneralLayoutOnce sync.Once
	dotGeneralLayoutOK   bool
)

// directGemmInstalled reports whether installDirectGemm wrapped simplego's DotGeneral executor.
var directGemmInstalled = installDirectGemm()

// installDirectGemm wraps simplego's DotGeneral executor with directGemm.
func installDirectGemm() bool {
	orig := nodeExecutors[backends.OpTypeDotGeneral]
	if orig == nil {
		return false
	}
	nodeExecutors[backends.OpTypeDotGeneral] = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error) {
		if out, ok := directGemm(backend, node, inputs); ok {
			return out, nil
		}
		return orig(backend, node, inputs, inputsOwned)
	}
	return true
}

// matrixLayout says whether an operand of the given rank, batch axes and contracting axes is a batch of
// matrices: batch axes 0..nb-1, then contracting axes (consecutive, increasing) either last (the cross
// axes before them: [cross][K], contractFirst false) or right after the batch axes ([K][cross]).
func matrixLayout(rank int, batch, contract []int) (contractFirst, ok bool) {
	for i, a := range batch {
		if a != i {
			return false, false
		}
	}
	nc := len(contract)
	if nc == 0 {
		return false, false
	}
	for i := 1; i < nc; i++ {
		if contract[i] != contract[i-1]+1 {
			return false, false
		}
	}
	switch c0 := contract[0]; {
	case c0+nc == rank && c0 >= len(batch):
		return false, true
	case c0 == len(batch):
		return true, true
	}
	return false, false
}

// directGemm computes a float32 DotGeneral whose operands are batches of matrices with the SIMD
// micro-kernel; ok is false (nothing done) for anything else.
func directGemm(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (*simplego.Buffer, bool) {
	k := simdKernel(activeKernel.Load())
	if !simdKernelInstalled || k == kernelGeneric || !k.available() || len(inputs) != 2 {
		return nil, false
	}
	m := mirrorOf(node)
	if m.shape.DType != dtypes.Float32 || m.data == nil {
		return nil, false
	}
	dotGeneralLayoutOnce.Do(func() {
		t := reflect.TypeOf(m.data)
		dotGeneralLayoutOK = t.Kind() == reflect.Pointer && sameLayout(t.Elem(), dotGeneralMirror{})
	})
	if !dotGeneralLayoutOK {
		return nil, false
	}
	p := (*dotGeneralMirror)(reflect.ValueOf(m.data).UnsafePointer())
	ls, rs := bufferShape(inputs[0]), bufferShape(inputs[1])
	if ls.DType != dtypes.Float32 || rs.DType != dtypes.Float32 || len(p.lhsBatchAxes) != len(p.rhsBatchAxes) {
		return nil, false
	}
	aT, okL := matrixLayout(ls.Rank(), p.lhsBatchAxes, p.lhsContractingAxes)
	bKN, okR := matrixLayout(rs.Rank(), p.rhsBatchAxes, p.rhsContractingAxes)
	if !okL || !okR {
		return nil, false
	}
	a, b := flatFloat32(inputs[0]), flatFloat32(inputs[1])
	nb, mm, nn, kk := p.batchSize, p.lhsCrossSize, p.rhsCrossSize, p.contractingSize
	if a == nil || b == nil || nb*mm*kk != ls.Size() || nb*nn*kk != rs.Size() || nb*mm*nn != m.shape.Size() || kk == 0 {
		return nil, false
	}
	output := getBufferForShape(backend, m.shape)
	c := flatFloat32(output)
	if c == nil {
		return nil, false
	}
	g := gemm{m: mm, n: nn, k: kk, aT: aT, bT: !bKN, kernel: k}
	for bi := range nb {
		g.run(a[bi*mm*kk:(bi+1)*mm*kk], b[bi*nn*kk:(bi+1)*nn*kk], c[bi*mm*nn:(bi+1)*mm*nn])
	}
	directGemmRuns.Add(1)
	return output, true
}

// gemm is one C[M][N] = A · B product with the SIMD micro-kernel k: A is [M][K] (or [K][M] with aT), B is
// [K][N] (or [N][K] with bT), C row-major.
type gemm struct {
	m, n, k int
	aT, bT  bool
	kernel  simdKernel
}

// run computes c = a · b (c is overwritten).
func (g gemm) run(a, b, c []float32) {
	mr, nr, fn := 4, 16, kernel4x16
	if g.kernel == kernelAVX512 {
		mr, nr, fn = 8, 32, kernel8x32avx512
	}
	M, N, K := g.m, g.n, g.k
	// A [K][M] is read in place by the AVX-512 depth-major kernel; otherwise transposed to [M][K].
	depthMajor := g.aT && g.kernel == kernelAVX512
	if g.aT && !depthMajor {
		a = transposeMatrix(a, K, M)
	}
	if g.bT {
		b = transposeMatrix(b, N, K)
	}
	// Pad to whole tiles where needed (zero rows of A, zero columns of B; the padding of C is dropped).
	Mp, Np := (M+mr-1)/mr*mr, (N+nr-1)/nr*nr
	switch {
	case Mp != M && depthMajor:
		pa := make([]float32, K*Mp)
		for p := range K {
			copy(pa[p*Mp:p*Mp+M], a[p*M:(p+1)*M])
		}
		a = pa
	case Mp != M:
		pa := make([]float32, Mp*K)
		copy(pa, a[:M*K])
		a = pa
	}
	if Np != N {
		pb := make([]float32, K*Np)
		for p := range K {
			copy(pb[p*Np:p*Np+N], b[p*N:(p+1)*N])
		}
		b = pb
	}
	cp := c[:M*N]
	if Mp != M || Np != N {
		cp = make([]float32, Mp*Np)
	} else {
		clear(cp)
	}
	strips, rowTiles := Np/nr, Mp/mr
	tile := func(j, i0, i1 int) { // Column strip j, row tiles [i0, i1).
		for p0 := 0; p0 < K; p0 += gemmKC {
			kc := min(gemmKC, K-p0)
			bp := &b[p0*Np+j*nr]
			if depthMajor {
				for i := i0; i < i1; i++ {
					kernel8x32avx512T(kc, &a[p0*Mp+i*mr], Mp, bp, Np, &cp[i*mr*Np+j*nr], Np)
				}
				continue
			}
			for i := i0; i < i1; i++ {
				fn(kc, &a[i*mr*K+p0], K, bp, Np, &cp[i*mr*Np+j*nr], Np)
			}
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if 2*Mp*Np*K < 1<<20 {
		workers = 1
	}
	if strips >= workers || strips >= rowTiles {
		parallelChunks(strips, min(workers, strips), func(_, s0, s1 int) {
			for j := s0; j < s1; j++ {
				tile(j, 0, rowTiles)
			}
		})
	} else {
		parallelChunks(rowTiles, min(workers, rowTiles), func(_, r0, r1 int) {
			for j := range strips {
				tile(j, r0, r1)
			}
		})
	}
	if Mp != M || Np != N {
		for i := range M {
			copy(c[i*N:(i+1)*N], cp[i*Np:i*Np+N])
		}
	}
}

// transposeMatrix returns the [cols][rows] transpose of the row-major [rows][cols] matrix x, in 8x8 tiles
// (transpose8x8AVX where whole) and split over the cores when large.
func transposeMatrix(x []float32, rows, cols int) []float32 {
	out := make([]float32, rows*cols)
	workers := 1
	if rows*cols >= 1<<16 {
		workers = runtime.GOMAXPROCS(0)
	}
	rowBlocks := (rows + 7) / 8
	parallelChunks(rowBlocks, min(workers, rowBlocks), func(_, b0, b1 int) {
		transposeRows(out, x, rows, cols, b0*8, min(b1*8, rows))
	})
	return out
}

// transposeRows writes rows [i0, i1) of the row-major [rows][cols] matrix x into out, its [cols][rows]
// transpose, in 8x8 tiles (transpose8x8AVX where whole; i0 a multiple of 8).
func transposeRows(out, x []float32, rows, cols, i0, i1 int) {
	for r0 := i0; r0 < i1; r0 += 8 {
		r1 := min(r0+8, i1)
		for j0 := 0; j0 < cols; j0 += 8 {
			j1 := min(j0+8, cols)
			if simdRows && r1-r0 == 8 && j1-j0 == 8 {
				transpose8x8AVX(&out[j0*rows+r0], rows, &x[r0*cols+j0], cols)
				continue
			}
			for i := r0; i < r1; i++ {
				for jj, v := range x[i*cols+j0 : i*cols+j1] {
					out[(j0+jj)*rows+i] = v
				}
			}
		}
	}
}

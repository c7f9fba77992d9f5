package purego

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// simplego multiplies large matrices by cutting them into square blocks (32x32 for float32) and calling a
// per-dtype block kernel on every (lhs, rhs, output) block triple, from several goroutines. Its float32
// kernel is plain Go (about 3 GFLOP/s on this project's 2-core machine). installSIMDKernel replaces it, for
// the whole process, with one that runs the best SIMD kernel this CPU runs:
// kernel8x32avx512 (AVX-512F assembly, 8x32 output tiles) or kernel4x16 (AVX2 FMA, 4x16 tiles).
//
// simplego exposes neither the kernel table nor its buffers' data, so this reaches them by name
// (go:linkname) and by a mirror of simplego.Buffer's layout, both checked against GoMLX v0.26.0 (the version
// go.mod pins): installSIMDKernel refuses to install when the table entry or a buffer does not look as
// expected, and simplego's own kernel keeps running. The float32 matrix-product tests in this package
// compare the result with float64 arithmetic for many shapes.

// SIMDEnv names the environment variable that picks the float32 block kernel (read once, when the program
// starts): "0" (or "off") keeps simplego's own kernel and operand packing; "avx2" asks for the AVX2 FMA
// kernel; "avx512" for the AVX-512 one; empty, "1" or "auto" take the best this CPU runs. A kernel the CPU
// lacks falls back to the next best (AVX-512, AVX2, simplego's); an unknown value is reported on stderr and
// treated as "auto".
const SIMDEnv = "MLKIT_SIMD"

// simdKernel names a float32 block kernel.
type simdKernel int32

const (
	kernelGeneric simdKernel = iota // simplego's own, plain Go
	kernelAVX2                      // kernel4x16, AVX2 + FMA
	kernelAVX512                    // kernel8x32avx512, AVX-512F
)

// String is the kernel's name as SIMDEnv spells it ("generic" for simplego's).
func (k simdKernel) String() string {
	switch k {
	case kernelAVX2:
		return "avx2"
	case kernelAVX512:
		return "avx512"
	}
	return "generic"
}

// available reports whether this CPU runs the kernel.
func (k simdKernel) available() bool {
	switch k {
	case kernelAVX2:
		return haveAVX2Kernel
	case kernelAVX512:
		return haveAVX512Kernel
	}
	return true
}

// bestKernel is the fastest kernel this CPU runs, at most limit.
func bestKernel(limit simdKernel) simdKernel {
	for k := limit; k > kernelGeneric; k-- {
		if k.available() {
			return k
		}
	}
	return kernelGeneric
}

// kernelFromEnv interprets SIMDEnv's value; ok is false for a value it does not know (then: the best).
func kernelFromEnv(v string) (k simdKernel, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "1", "auto", "on":
		return bestKernel(kernelAVX512), true
	case "0", "off", "generic", "none":
		return kernelGeneric, true
	case "avx2":
		return bestKernel(kernelAVX2), true
	case "avx512":
		return bestKernel(kernelAVX512), true
	}
	return bestKernel(kernelAVX512), false
}

// activeKernel is the simdKernel every float32 product started from now on uses (blockKernel reads it once
// per product). Only tests change it after init.
var activeKernel atomic.Int32

//go:linkname dotGeneralKernelDTypeMap github.com/gomlx/gomlx/backends/simplego.dotGeneralKernelDTypeMap
var dotGeneralKernelDTypeMap *simplego.DTypeMap

// bufferMirror has simplego.Buffer's memory layout (v0.26.0: shape, valid, flat).
type bufferMirror struct {
	shape shapes.Shape
	valid bool
	flat  any
}

// flatFloat32 returns a simplego buffer's float32 data, or nil when it does not look like one.
func flatFloat32(b *simplego.Buffer) []float32 {
	if b == nil {
		return nil
	}
	m := (*bufferMirror)(unsafe.Pointer(b))
	f, ok := m.flat.([]float32)
	if !ok || m.shape.DType != dtypes.Float32 || len(f) < m.shape.Size() {
		return nil
	}
	return f
}

// simdKernelInstalled reports whether installSIMDKernel replaced simplego's float32 block kernel.
var simdKernelInstalled bool

func init() {
	k, ok := kernelFromEnv(os.Getenv(SIMDEnv))
	if !ok {
		fmt.Fprintf(os.Stderr, "mlkit/backend/purego: %s=%q is not one of 0, avx2, avx512, auto; using %s\n",
			SIMDEnv, os.Getenv(SIMDEnv), k)
	}
	if k == kernelGeneric {
		return
	}
	simdRows = haveAVX2Kernel
	activeKernel.Store(int32(k))
	simdKernelInstalled = installSIMDKernel()
	if !simdKernelInstalled {
		activeKernel.Store(int32(kernelGeneric))
	}
	installFastPacking()
	installFastFill()
}

// installSIMDKernel replaces simplego's float32 block kernel with one that runs activeKernel (see above);
// it returns false, changing nothing, when the CPU lacks AVX2/FMA or simplego does not look as expected.
func installSIMDKernel() bool {
	if !haveAVX2Kernel || dotGeneralKernelDTypeMap == nil {
		return false
	}
	orig := dotGeneralKernelDTypeMap.Map[dtypes.Float32]
	if orig == nil {
		return false
	}
	ft := reflect.TypeOf(orig)
	bufType := reflect.TypeOf((*simplego.Buffer)(nil))
	if ft.Kind() != reflect.Func || ft.NumIn() != 4 || ft.NumOut() != 1 ||
		ft.In(0) != bufType || ft.In(1) != bufType || ft.In(2) != bufType || ft.In(3).Kind() != reflect.Int {
		return false
	}
	kt := ft.Out(0) // simplego's kernelFuncType: func(lhsBlockIdx, rhsBlockIdx, outputBlockIdx int).
	if kt.Kind() != reflect.Func || kt.NumIn() != 3 || kt.NumOut() != 0 {
		return false
	}
	origV := reflect.ValueOf(orig)
	ours := reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		lhs := args[0].Interface().(*simplego.Buffer)
		rhs := args[1].Interface().(*simplego.Buffer)
		out := args[2].Interface().(*simplego.Buffer)
		blockDim := int(args[3].Int())
		fn := blockKernel(simdKernel(activeKernel.Load()), flatFloat32(lhs), flatFloat32(rhs), flatFloat32(out), blockDim)
		if fn == nil {
			return origV.Call(args)
		}
		return []reflect.Value{reflect.ValueOf(fn).Convert(kt)}
	})
	dotGeneralKernelDTypeMap.Map[dtypes.Float32] = ours.Interface()
	return true
}

// blockKernel returns the block kernel for simplego's blocked float32 buffers: lhs blocks are
// [lhsRow][k], rhs blocks [rhsRow][k], output blocks [lhsRow][rhsRow], each blockDim x blockDim and
// contiguous; the kernel adds lhs block · rhs blockᵀ to the output block, with kernel k's tiles (AVX-512:
// 8x32, AVX2: 4x16; a block size the AVX-512 tile does not divide uses AVX2's). It returns nil (use
// simplego's) for kernelGeneric, when a buffer is missing or when blockDim is not a multiple of 16.
func blockKernel(k simdKernel, lhs, rhs, out []float32, blockDim int) func(lhsBlockIdx, rhsBlockIdx, outputBlockIdx int) {
	if k == kernelGeneric || !k.available() || lhs == nil || rhs == nil || out == nil || blockDim <= 0 || blockDim%16 != 0 {
		return nil
	}
	if k == kernelAVX512 && blockDim%32 != 0 {
		k = kernelAVX2
	}
	bs := blockDim * blockDim
	if len(lhs)%bs != 0 || len(rhs)%bs != 0 || len(out)%bs != 0 {
		return nil
	}
	// The kernels want B as [k][column]: transpose every rhs block once.
	rhsT := transposeBlocks(rhs, blockDim)
	if k == kernelAVX512 {
		return func(lhsBlockIdx, rhsBlockIdx, outputBlockIdx int) {
			a := lhs[lhsBlockIdx*bs : (lhsBlockIdx+1)*bs]
			b := rhsT[rhsBlockIdx*bs : (rhsBlockIdx+1)*bs]
			c := out[outputBlockIdx*bs : (outputBlockIdx+1)*bs]
			for i := 0; i < blockDim; i += 8 {
				for j := 0; j < blockDim; j += 32 {
					kernel8x32avx512(blockDim, &a[i*blockDim], blockDim, &b[j], blockDim, &c[i*blockDim+j], blockDim)
				}
			}
		}
	}
	return func(lhsBlockIdx, rhsBlockIdx, outputBlockIdx int) {
		a := lhs[lhsBlockIdx*bs : (lhsBlockIdx+1)*bs]
		b := rhsT[rhsBlockIdx*bs : (rhsBlockIdx+1)*bs]
		c := out[outputBlockIdx*bs : (outputBlockIdx+1)*bs]
		for i := 0; i < blockDim; i += 4 {
			for j := 0; j < blockDim; j += 16 {
				kernel4x16(blockDim, &a[i*blockDim], blockDim, &b[j], blockDim, &c[i*blockDim+j], blockDim)
			}
		}
	}
}

// SIMDKernelInstalled reports whether simplego's float32 block kernel was replaced by a SIMD one (see
// installSIMDKernel); false on CPUs without AVX2/FMA, off amd64 and with MLKIT_SIMD=0.
func SIMDKernelInstalled() bool { return simdKernelInstalled }

// SIMDKernel names the float32 block kernel float32 matrix products use: "avx512", "avx2", or "generic"
// (simplego's own), after SIMDEnv and the CPU's features.
func SIMDKernel() string { return simdKernel(activeKernel.Load()).String() }

// transposeBlocks returns a copy of blocks (contiguous blockDim x blockDim blocks, blockDim a multiple of
// 8) with every block transposed: in 8x8 tiles (transposeRows), so that reads and writes stay within a few
// cache lines, and split over the cores when there are many blocks (a ResNet50 training step transposes every weight
// matrix about twice).
func transposeBlocks(blocks []float32, blockDim int) []float32 {
	out := make([]float32, len(blocks))
	bs := blockDim * blockDim
	n := len(blocks) / bs
	one := func(b int) {
		transposeRows(out[b*bs:(b+1)*bs], blocks[b*bs:(b+1)*bs], blockDim, blockDim, 0, blockDim)
	}
	workers := 1
	if len(blocks) >= 1<<16 {
		workers = min(runtime.GOMAXPROCS(0), n)
	}
	parallelChunks(n, workers, func(_, start, end int) {
		for b := start; b < end; b++ {
			one(b)
		}
	})
	return out
}

package purego

import (
	"os"
	"reflect"
	"unsafe"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// simplego multiplies large matrices by cutting them into square blocks (32x32 for float32) and calling a
// per-dtype block kernel on every (lhs, rhs, output) block triple, from several goroutines. Its float32
// kernel is plain Go (about 3 GFLOP/s on this project's 2-core machine). installSIMDKernel replaces it, for
// the whole process, with one that runs kernel4x16 (AVX2 FMA assembly) over 4x16 output tiles.
//
// simplego exposes neither the kernel table nor its buffers' data, so this reaches them by name
// (go:linkname) and by a mirror of simplego.Buffer's layout, both checked against GoMLX v0.26.0 (the version
// go.mod pins): installSIMDKernel refuses to install when the table entry or a buffer does not look as
// expected, and simplego's own kernel keeps running. The float32 matrix-product tests in this package
// compare the result with float64 arithmetic for many shapes.

// SIMDEnv names the environment variable that, set to "0", keeps simplego's own float32 block kernel and
// operand packing (read once, when the program starts).
const SIMDEnv = "MLKIT_SIMD"

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
	if os.Getenv(SIMDEnv) == "0" {
		return
	}
	simdKernelInstalled = installSIMDKernel()
	installFastPacking()
}

// installSIMDKernel replaces simplego's float32 block kernel with the SIMD one (see above); it returns
// false, changing nothing, when the CPU lacks AVX2/FMA or simplego does not look as expected.
func installSIMDKernel() bool {
	if !haveSIMDKernel || dotGeneralKernelDTypeMap == nil {
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
		fn := blockKernel(flatFloat32(lhs), flatFloat32(rhs), flatFloat32(out), blockDim)
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
// contiguous; the kernel adds lhs block · rhs blockᵀ to the output block. It returns nil (use simplego's)
// when a buffer is missing or blockDim is not a multiple of 16.
func blockKernel(lhs, rhs, out []float32, blockDim int) func(lhsBlockIdx, rhsBlockIdx, outputBlockIdx int) {
	if lhs == nil || rhs == nil || out == nil || blockDim <= 0 || blockDim%16 != 0 {
		return nil
	}
	bs := blockDim * blockDim
	if len(lhs)%bs != 0 || len(rhs)%bs != 0 || len(out)%bs != 0 {
		return nil
	}
	// The kernel wants B as [k][column]: transpose every rhs block once.
	rhsT := make([]float32, len(rhs))
	for base := 0; base < len(rhs); base += bs {
		src, dst := rhs[base:base+bs], rhsT[base:base+bs]
		for j := range blockDim {
			row := src[j*blockDim : (j+1)*blockDim]
			for k, v := range row {
				dst[k*blockDim+j] = v
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

// SIMDKernelInstalled reports whether simplego's float32 block kernel was replaced by the AVX2 FMA one
// (see installSIMDKernel); false on CPUs without AVX2/FMA and off amd64.
func SIMDKernelInstalled() bool { return simdKernelInstalled }

package purego

import (
	"reflect"
	"sync/atomic"
	_ "unsafe" // go:linkname

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

//go:linkname sliceDTypeMap github.com/gomlx/gomlx/backends/simplego.sliceDTypeMap
var sliceDTypeMap *simplego.DTypeMap

// sliceNodeMirror mirrors simplego's sliceNode: a Slice op's parameters per axis.
type sliceNodeMirror struct {
	starts, limits, strides []int
}

// fastSliceRuns counts the slices fastSlice computed (for tests).
var fastSliceRuns atomic.Int64

// fastSliceInstalled reports whether installFastSlice replaced simplego's float32 Slice.
var fastSliceInstalled = installFastSlice()

// installFastSlice replaces simplego's float32 Slice kernel (one index-iterator step per element: a
// quarter of an EfficientNet-B0 training step once broadcasting and reductions were fast, in the shifted
// slices of depthwise convolution and of im2col) with one that copies whole contiguous rows. It changes
// nothing when simplego does not look as expected.
func installFastSlice() bool {
	if sliceDTypeMap == nil {
		return false
	}
	orig := sliceDTypeMap.Map[dtypes.Float32]
	if orig == nil {
		return false
	}
	ft := reflect.TypeOf(orig)
	bufType := reflect.TypeOf((*simplego.Buffer)(nil))
	if ft.Kind() != reflect.Func || ft.NumIn() != 3 || ft.NumOut() != 0 || ft.In(0) != bufType || ft.In(1) != bufType ||
		ft.In(2).Kind() != reflect.Pointer {
		return false
	}
	if !sameLayout(ft.In(2).Elem(), sliceNodeMirror{}) {
		return false
	}
	origV := reflect.ValueOf(orig)
	ours := reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		in, out := args[0].Interface().(*simplego.Buffer), args[1].Interface().(*simplego.Buffer)
		p := (*sliceNodeMirror)(args[2].UnsafePointer()) // Its layout was checked above.
		a, o := flatFloat32(in), flatFloat32(out)
		if a == nil || o == nil || !fastSlice(a, o, bufferShape(in), bufferShape(out), p.starts, p.strides) {
			return origV.Call(args)
		}
		fastSliceRuns.Add(1)
		return nil
	})
	sliceDTypeMap.Map[dtypes.Float32] = ours.Interface()
	return true
}

// fastSlice copies the slice of operand (shape in) starting at starts with strides into out (shape
// outShape), a row at a time: the trailing axes taken whole with stride 1, and the axis before them when
// its stride is 1, form one contiguous row. It returns false, writing nothing, for a shape it does not
// expect or rows too short to gain anything.
func fastSlice(operand, out []float32, in, outShape shapes.Shape, starts, strides []int) bool {
	rank := in.Rank()
	if rank == 0 || outShape.Rank() != rank || len(starts) != rank || len(strides) != rank ||
		in.Size() != len(operand) || outShape.Size() != len(out) || len(out) == 0 {
		return false
	}
	dims, outDims := in.Dimensions, outShape.Dimensions
	for k := range rank {
		if strides[k] < 1 || starts[k] < 0 || outDims[k] < 1 || starts[k]+(outDims[k]-1)*strides[k] >= dims[k] {
			return false
		}
	}
	return sliceRows(operand, out, dims, starts, strides, outDims)
}

// sliceRows copies the slice with output extents outDims (copySliceRows as one region); it returns false,
// writing nothing, when its contiguous rows would be shorter than 4 elements (no better than simplego's).
func sliceRows(operand, out []float32, dims, starts, strides, outDims []int) bool {
	if run, _ := sliceRun(dims, starts, strides, outDims, 0); run < 4 {
		return false
	}
	copySliceRows(operand, dims, starts, strides, outDims, 0, out, len(out), 0, len(out), 1, 1)
	return true
}

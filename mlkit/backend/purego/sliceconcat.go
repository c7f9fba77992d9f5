package purego

import (
	"fmt"
	"reflect"
	"runtime"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Slice-concatenate fusion. im2col (see conv.go) builds a convolution's patches as one strided Slice of
// the (padded) input per kernel position, concatenated along the channels: the patches, nine times the
// input for a 3x3 kernel, were written twice (each slice, then the concatenation), a quarter of a 224-px
// ResNet50 training step in copies. At Compile, a float32 Concatenate whose operands include Slices used
// nowhere else becomes one node that copies each slice's rows straight from its source into the output.

// sliceConcatOpType is the simplego op type of fused slice-concatenations: one simplego does not implement
// (Real), so no node of its own has it.
const sliceConcatOpType = backends.OpTypeReal

// sliceConcatRuns counts executed slice-concatenations (for tests).
var sliceConcatRuns atomic.Int64

// sliceConcatPart is one operand of a fused concatenation: input (an index into the node's inputs) taken
// whole, or its slice from starts with strides when slice is set.
type sliceConcatPart struct {
	input           int
	slice           bool
	starts, strides []int
	dims            []int // the part's shape (the slice's output)
}

// sliceConcatExpr is a fused concatenation along axis of its parts.
type sliceConcatExpr struct {
	axis  int
	shape shapes.Shape
	parts []sliceConcatPart
}

// sliceConcatInstalled reports whether the executor was registered (see installSliceConcat).
var sliceConcatInstalled = installSliceConcat()

func installSliceConcat() bool {
	if !sameLayout(reflect.TypeOf(simplego.Node{}), nodeMirror{}) || nodeExecutors[sliceConcatOpType] != nil {
		return false
	}
	nodeExecutors[sliceConcatOpType] = execSliceConcat
	return true
}

// fuseSliceConcat rewrites every reachable float32 Concatenate with at least one single-use Slice operand
// (uses: the reachable use counts) into a fused slice-concatenation.
func fuseSliceConcat(order []*simplego.Node, uses map[*simplego.Node]int) {
	if !sliceConcatInstalled {
		return
	}
	for _, n := range order {
		m := mirrorOf(n)
		if m.opType != backends.OpTypeConcatenate || m.shape.DType != dtypes.Float32 || len(m.multiOutputsShapes) != 0 {
			continue
		}
		axis, ok := m.data.(int)
		if !ok || axis < 0 || axis >= m.shape.Rank() {
			continue
		}
		e := &sliceConcatExpr{axis: axis, shape: m.shape}
		var inputs []*simplego.Node
		index := map[*simplego.Node]int{}
		input := func(x *simplego.Node) int {
			if i, ok := index[x]; ok {
				return i
			}
			index[x] = len(inputs)
			inputs = append(inputs, x)
			return len(inputs) - 1
		}
		sliced := 0
		for _, x := range m.inputs {
			xm := mirrorOf(x)
			p := sliceConcatPart{dims: xm.shape.Dimensions}
			if xm.opType == backends.OpTypeSlice && uses[x] == 1 && len(xm.inputs) == 1 {
				if sp := sliceParams(xm); sp != nil && len(sp.starts) == xm.shape.Rank() {
					p.slice, p.starts, p.strides = true, sp.starts, sp.strides
					p.input = input(xm.inputs[0])
					sliced++
					e.parts = append(e.parts, p)
					continue
				}
			}
			p.input = input(x)
			e.parts = append(e.parts, p)
		}
		if sliced == 0 {
			continue
		}
		m.opType, m.inputs, m.data = sliceConcatOpType, inputs, e
	}
}

// execSliceConcat is the executor of fused slice-concatenations.
func execSliceConcat(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, error) {
	e, _ := mirrorOf(node).data.(*sliceConcatExpr)
	if e == nil {
		return nil, fmt.Errorf("%s backend: node of op type %s is not a fused slice-concatenation (Real is not supported)", BackendName, sliceConcatOpType)
	}
	flats := make([][]float32, len(inputs))
	srcDims := make([][]int, len(inputs))
	for i, in := range inputs {
		if flats[i] = flatFloat32(in); flats[i] == nil {
			return nil, fmt.Errorf("%s backend: fused slice-concatenation: input %d is not a float32 buffer", BackendName, i)
		}
		srcDims[i] = bufferShape(in).Dimensions
	}
	output := getBufferForShape(backend, e.shape)
	out := flatFloat32(output)
	if out == nil {
		return nil, fmt.Errorf("%s backend: fused slice-concatenation: no float32 output of shape %s", BackendName, e.shape)
	}
	dims := e.shape.Dimensions
	outer, inner := 1, 1
	for k := range e.axis {
		outer *= dims[k]
	}
	for k := e.axis + 1; k < len(dims); k++ {
		inner *= dims[k]
	}
	rowOut := dims[e.axis] * inner
	workers := 1
	if len(out) >= parallelMinElements {
		workers = min(runtime.GOMAXPROCS(0), outer)
	}
	off := 0
	for _, p := range e.parts {
		L := p.dims[e.axis] * inner // the part's run per outer index
		dstOff := off * inner
		src := flats[p.input]
		if !p.slice {
			parallelChunks(outer, workers, func(_, o0, o1 int) {
				for o := o0; o < o1; o++ {
					copy(out[o*rowOut+dstOff:o*rowOut+dstOff+L], src[o*L:(o+1)*L])
				}
			})
		} else {
			copySliceRows(src, srcDims[p.input], p.starts, p.strides, p.dims, e.axis, out, rowOut, dstOff, L, outer, workers)
		}
		off += p.dims[e.axis]
	}
	sliceConcatRuns.Add(1)
	return output, nil
}

// copySliceRows copies the slice of src (dims srcDims) from starts with strides (extents dims) into the
// output region of a concatenation: the part's elements for outer index o (the axes before axis) go to
// out[o*rowOut+dstOff:][:L]. Runs contiguous in the source and within the part's region (trailing axes
// from axis on) are copied whole; outer indices are split over workers.
func copySliceRows(src []float32, srcDims, starts, strides, dims []int, axis int, out []float32, rowOut, dstOff, L, outer, workers int) {
	rank := len(dims)
	inStride := make([]int, rank)
	s := 1
	for k := rank - 1; k >= 0; k-- {
		inStride[k] = s
		s *= srcDims[k]
	}
	run, first := sliceRun(srcDims, starts, strides, dims, axis)
	base := 0
	for k := range rank {
		base += starts[k] * inStride[k]
	}
	runsPerOuter := L / run
	parallelChunks(outer, workers, func(_, o0, o1 int) {
		idx := make([]int, first)
		// The multi-index of the first run of outer index o0 (axes before first; the outer axes' part).
		rem := o0 * runsPerOuter
		srcOff := base
		for k := first - 1; k >= 0; k-- {
			idx[k] = rem % dims[k]
			rem /= dims[k]
			srcOff += idx[k] * strides[k] * inStride[k]
		}
		for o := o0; o < o1; o++ {
			d := o*rowOut + dstOff
			for r := 0; r < runsPerOuter; r++ {
				copy(out[d+r*run:d+(r+1)*run], src[srcOff:srcOff+run])
				for k := first - 1; k >= 0; k-- { // Next run: odometer over the axes before first.
					idx[k]++
					srcOff += strides[k] * inStride[k]
					if idx[k] < dims[k] {
						break
					}
					srcOff -= idx[k] * strides[k] * inStride[k]
					idx[k] = 0
				}
			}
		}
	})
}

// sliceRun returns the longest run of a slice (source dimensions srcDims, starts, strides, extents dims)
// that is contiguous in the source, as its length and first axis: the trailing axes taken whole with
// stride 1, plus the axis before them when its stride is 1, never above axis (so that a run stays inside
// one index of the axes before axis).
func sliceRun(srcDims, starts, strides, dims []int, axis int) (run, first int) {
	run, first = 1, len(dims)
	for first > axis && strides[first-1] == 1 && starts[first-1] == 0 && dims[first-1] == srcDims[first-1] {
		first--
		run *= dims[first]
	}
	if first > axis && strides[first-1] == 1 {
		first--
		run *= dims[first]
	}
	return run, first
}

// sliceParams returns a Slice node's parameters, or nil when its data does not look as expected.
func sliceParams(m *nodeMirror) *sliceNodeMirror {
	v := reflect.ValueOf(m.data)
	if v.Kind() != reflect.Pointer || v.IsNil() || !sameLayout(v.Type().Elem(), sliceNodeMirror{}) {
		return nil
	}
	return (*sliceNodeMirror)(v.UnsafePointer())
}

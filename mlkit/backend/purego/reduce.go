package purego

import (
	"reflect"
	"runtime"
	"sync/atomic"
	_ "unsafe" // go:linkname

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

//go:linkname reduceSumDTypeMap github.com/gomlx/gomlx/backends/simplego.reduceSumDTypeMap
var reduceSumDTypeMap *simplego.DTypeMap

// reduceIteratorMirror mirrors simplego's reduceOutputIterator, whose perAxisStride is 0 along the reduced
// axes (and the output's stride along the others).
type reduceIteratorMirror struct {
	flatIdx       int
	perAxisIdx    []int
	dimensions    []int
	perAxisStride []int
}

// fastReduceSumRuns counts the reductions fastReduceSum computed (for tests).
var fastReduceSumRuns atomic.Int64

// fastReduceSumInstalled reports whether installFastReduceSum replaced simplego's float32 ReduceSum.
var fastReduceSumInstalled = installFastReduceSum()

// installFastReduceSum replaces simplego's float32 ReduceSum kernel (one index-iterator step per operand
// element: a fifth of an EfficientNet-B0 training step, in batch-norm statistics and their gradients)
// with one that adds whole contiguous rows (fastReduceSum). It changes nothing when simplego does not
// look as expected.
func installFastReduceSum() bool {
	if reduceSumDTypeMap == nil {
		return false
	}
	orig := reduceSumDTypeMap.Map[dtypes.Float32]
	if orig == nil {
		return false
	}
	ft := reflect.TypeOf(orig)
	bufType := reflect.TypeOf((*simplego.Buffer)(nil))
	if ft.Kind() != reflect.Func || ft.NumIn() != 4 || ft.NumOut() != 0 || ft.In(0) != bufType || ft.In(1) != bufType ||
		ft.In(2).Kind() != reflect.Pointer || ft.In(3) != reflect.TypeOf(dtypes.Float32) {
		return false
	}
	if !sameLayout(ft.In(2).Elem(), reduceIteratorMirror{}) {
		return false
	}
	origV := reflect.ValueOf(orig)
	ours := reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		operand := flatFloat32(args[0].Interface().(*simplego.Buffer))
		output := flatFloat32(args[1].Interface().(*simplego.Buffer))
		iter := (*reduceIteratorMirror)(args[2].UnsafePointer()) // Its layout was checked above.
		if operand == nil || output == nil || !fastReduceSum(operand, output, iter.dimensions, iter.perAxisStride) {
			return origV.Call(args)
		}
		fastReduceSumRuns.Add(1)
		return nil
	})
	reduceSumDTypeMap.Map[dtypes.Float32] = ours.Interface()
	return true
}

// reduceSegment is a run of neighbouring operand axes, all reduced or all kept, merged into one.
type reduceSegment struct {
	size    int
	reduced bool
}

// fastReduceSum sets output to the sum of operand (shape dims) over the axes whose stride is 0; it
// returns false, writing nothing, when the shapes do not add up.
func fastReduceSum(operand, output []float32, dims, strides []int) bool {
	if len(dims) != len(strides) {
		return false
	}
	var segs []reduceSegment
	size, outSize := 1, 1
	for k, d := range dims {
		size *= d
		reduced := strides[k] == 0
		if !reduced {
			outSize *= d
		}
		if d == 1 {
			continue
		}
		if n := len(segs); n > 0 && segs[n-1].reduced == reduced {
			segs[n-1].size *= d
			continue
		}
		segs = append(segs, reduceSegment{d, reduced})
	}
	if size != len(operand) || outSize != len(output) || size == 0 {
		return false
	}
	if len(segs) == 0 || (len(segs) == 1 && !segs[0].reduced) {
		copy(output, operand) // Nothing reduced (size-1 axes only).
		return true
	}
	inner := segs[len(segs)-1].size
	rows := size / inner
	workers := 1
	if size >= parallelMinElements {
		workers = min(runtime.GOMAXPROCS(0), rows)
	}
	// Split the rows over the workers, each into its own output (rows of different workers may add into
	// the same output element; the first worker's is output itself), then add the partial outputs.
	partial := make([][]float32, workers)
	clear(output)
	parallelChunks(rows, workers, func(w, start, end int) {
		partial[w] = output
		if w > 0 {
			partial[w] = make([]float32, len(output))
		}
		reduceRows(segs, operand, partial[w], start, end)
	})
	for _, p := range partial[1:] {
		for i, v := range p {
			output[i] += v
		}
	}
	return true
}

// reduceRows adds operand rows [start, end) (a row: the last segment) into output.
func reduceRows(segs []reduceSegment, operand, output []float32, start, end int) {
	n := len(segs)
	inner := segs[n-1]
	// Output strides of the outer segments (0 where reduced), and the row's position there.
	outStride := make([]int, n-1)
	s := 1
	if !inner.reduced {
		s = inner.size
	}
	for k := n - 2; k >= 0; k-- {
		if !segs[k].reduced {
			outStride[k] = s
			s *= segs[k].size
		}
	}
	idx := make([]int, n-1)
	off := 0
	rem := start
	for k := n - 2; k >= 0; k-- {
		idx[k] = rem % segs[k].size
		rem /= segs[k].size
		off += idx[k] * outStride[k]
	}
	for row := start; row < end; row++ {
		in := operand[row*inner.size : (row+1)*inner.size]
		if inner.reduced {
			var sum float32
			for _, v := range in {
				sum += v
			}
			output[off] += sum
		} else {
			out := output[off : off+inner.size]
			for i, v := range in[:len(out)] {
				out[i] += v
			}
		}
		for k := n - 2; k >= 0; k-- {
			idx[k]++
			off += outStride[k]
			if idx[k] < segs[k].size {
				break
			}
			off -= idx[k] * outStride[k]
			idx[k] = 0
		}
	}
}

package purego

import (
	"runtime"
	"sync/atomic"
	"unsafe" // go:linkname, and buffer views

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// unaryOperandAndOutput is simplego's: the operand and an output buffer of its shape (the operand itself,
// cleared from inputs, when it is owned).
//
//go:linkname unaryOperandAndOutput github.com/gomlx/gomlx/backends/simplego.unaryOperandAndOutput
func unaryOperandAndOutput(backend *simplego.Backend, inputs []*simplego.Buffer, inputsOwned []bool) (input, output *simplego.Buffer)

// parallelUnaryOps are the float32-to-float32 unary ops installParallelUnary splits over the cores.
var parallelUnaryOps = []backends.OpType{
	backends.OpTypeNeg, backends.OpTypeAbs, backends.OpTypeSign, backends.OpTypeExp, backends.OpTypeExpm1,
	backends.OpTypeLog, backends.OpTypeLog1p, backends.OpTypeRsqrt, backends.OpTypeSqrt, backends.OpTypeCos,
	backends.OpTypeSin, backends.OpTypeTanh, backends.OpTypeLogistic, backends.OpTypeErf,
}

// parallelUnaryRuns counts the unary ops split over the cores (for tests).
var parallelUnaryRuns atomic.Int64

// parallelUnaryInstalled reports whether installParallelUnary wrapped simplego's unary executors.
var parallelUnaryInstalled = installParallelUnary()

// installParallelUnary wraps simplego's unary executors so that a large float32 operand is computed in
// place, in one chunk per core, by simplego's own executor on views of the output (the backend runs one op
// at a time, so each elementwise op used one core: the sigmoid of EfficientNet's SiLU and squeeze-excite
// was a tenth of its training step). Other dtypes and small operands go to simplego as before.
func installParallelUnary() bool {
	for _, op := range parallelUnaryOps {
		if nodeExecutors[op] == nil {
			return false
		}
	}
	for _, op := range parallelUnaryOps {
		orig := nodeExecutors[op]
		nodeExecutors[op] = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error) {
			if out, ok, err := parallelUnary(orig, backend, node, inputs, inputsOwned); ok {
				return out, err
			}
			return orig(backend, node, inputs, inputsOwned)
		}
	}
	return true
}

// parallelUnary runs orig over chunks of a large float32 operand in parallel; ok is false (nothing done)
// when the operand is not float32 or too small to split.
func parallelUnary(orig nodeExecutor, backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, bool, error) {
	if len(inputs) != 1 || len(inputsOwned) != 1 {
		return nil, false, nil
	}
	src := flatFloat32(inputs[0])
	workers := min(runtime.GOMAXPROCS(0), len(src)/parallelMinElements)
	if src == nil || workers < 2 {
		return nil, false, nil
	}
	owned := inputsOwned[0]
	_, output := unaryOperandAndOutput(backend, inputs, inputsOwned)
	out := flatFloat32(output)
	if out == nil || len(out) != len(src) {
		return nil, false, nil // Cannot happen: the output is a float32 buffer of the operand's shape.
	}
	if !owned {
		copy(out, src)
	}
	errs := make([]error, workers)
	parallelChunks(len(out), workers, func(w, start, end int) {
		chunk := out[start:end]
		view := &bufferMirror{shape: shapes.Make(dtypes.Float32, len(chunk)), valid: true, flat: chunk}
		_, errs[w] = orig(backend, node, []*simplego.Buffer{(*simplego.Buffer)(unsafe.Pointer(view))}, []bool{true})
	})
	for _, err := range errs {
		if err != nil {
			return nil, true, err
		}
	}
	parallelUnaryRuns.Add(1)
	return output, true, nil
}

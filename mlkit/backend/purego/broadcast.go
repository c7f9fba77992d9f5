package purego

import (
	"runtime"
	"sync/atomic"
	"unsafe" // go:linkname, and bufferMirror

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// nodeExecutor is simplego's executor of a single-output node.
type nodeExecutor = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error)

//go:linkname nodeExecutors github.com/gomlx/gomlx/backends/simplego.nodeExecutors
var nodeExecutors [backends.OpTypeLast]nodeExecutor

// binaryOperandsAndOutput is simplego's: it returns the operands and an output buffer of outputShape,
// reusing an owned operand of that shape (and clearing it from inputs) when there is one.
//
//go:linkname binaryOperandsAndOutput github.com/gomlx/gomlx/backends/simplego.binaryOperandsAndOutput
func binaryOperandsAndOutput(backend *simplego.Backend, inputs []*simplego.Buffer, inputsOwned []bool, outputShape shapes.Shape) (
	lhs, rhs, output *simplego.Buffer, lhsIsScalarOr1, rhsIsScalarOr1 bool)

// binOp is an elementwise float32 operation with a fast broadcasting executor.
type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opMax
	opMin
)

// fastBroadcastOps are the ops installFastBroadcast takes over, with simplego's op type.
var fastBroadcastOps = map[backends.OpType]binOp{
	backends.OpTypeAdd: opAdd, backends.OpTypeSub: opSub, backends.OpTypeMul: opMul,
	backends.OpTypeDiv: opDiv, backends.OpTypeMax: opMax, backends.OpTypeMin: opMin,
}

// fastBroadcastRuns counts the ops broadcastBinary computed (for tests).
var fastBroadcastRuns atomic.Int64

// fastBroadcastInstalled reports whether installFastBroadcast replaced simplego's executors.
var fastBroadcastInstalled = installFastBroadcast()

// installFastBroadcast replaces simplego's Add, Sub, Mul, Div, Max and Min executors with ones that
// compute float32 operands of different shapes (implicit broadcasting of size-1 axes: a per-channel scale
// [1,1,1,C] times [B,H,W,C], a squeeze-excite gate [B,1,1,C]) row by row instead of through simplego's
// per-element index iterator (a third of an EfficientNet-B0 training step went there), and split large
// outputs over the cores. Every other case (other dtypes, equal shapes, a scalar operand) goes to
// simplego's executor as before. It changes nothing when simplego does not look as expected.
func installFastBroadcast() bool {
	for opType := range fastBroadcastOps {
		if nodeExecutors[opType] == nil {
			return false
		}
	}
	for opType, op := range fastBroadcastOps {
		orig := nodeExecutors[opType]
		nodeExecutors[opType] = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error) {
			if len(inputs) == 2 {
				if out, ok := broadcastBinary(op, backend, inputs, inputsOwned); ok {
					return out, nil
				}
			}
			return orig(backend, node, inputs, inputsOwned)
		}
	}
	return true
}

// bufferShape returns a simplego buffer's shape.
func bufferShape(b *simplego.Buffer) shapes.Shape { return (*bufferMirror)(unsafe.Pointer(b)).shape }

// broadcastBinary computes op over two float32 buffers: of the same rank and different shapes (neither
// of size 1) whose every axis is equal or 1 on one side, row by row; or, when the output is large enough
// to split over the cores, of equal shapes or with a scalar side. ok is false (nothing done) for anything
// else, which simplego's own loop computes as fast.
func broadcastBinary(op binOp, backend *simplego.Backend, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, bool) {
	ls, rs := bufferShape(inputs[0]), bufferShape(inputs[1])
	if ls.DType != dtypes.Float32 || rs.DType != dtypes.Float32 {
		return nil, false
	}
	a, b := flatFloat32(inputs[0]), flatFloat32(inputs[1])
	if a == nil || b == nil {
		return nil, false
	}
	if ls.Equal(rs) || ls.Size() == 1 || rs.Size() == 1 {
		return flatBinary(op, backend, inputs, inputsOwned, ls, rs, a, b)
	}
	if ls.Rank() != rs.Rank() {
		return nil, false
	}
	dims := make([]int, ls.Rank())
	for i, l := range ls.Dimensions {
		r := rs.Dimensions[i]
		switch {
		case l == r:
			dims[i] = l
		case l == 1:
			dims[i] = r
		case r == 1:
			dims[i] = l
		default:
			return nil, false
		}
	}
	plan := newBroadcastPlan(dims, ls.Dimensions, rs.Dimensions)
	if len(plan.dims) < 2 {
		return nil, false
	}
	_, _, output, _, _ := binaryOperandsAndOutput(backend, inputs, inputsOwned, shapes.Make(dtypes.Float32, dims...))
	out := flatFloat32(output)
	if out == nil {
		return nil, false // Cannot happen: binaryOperandsAndOutput gives a float32 buffer of that shape.
	}
	plan.run(op, out, a, b)
	fastBroadcastRuns.Add(1)
	return output, true
}

// flatBinary computes op elementwise over operands of equal shapes, or with a scalar (size-1) side,
// split over the cores; it leaves outputs too small to split to simplego (ok false).
func flatBinary(op binOp, backend *simplego.Backend, inputs []*simplego.Buffer, inputsOwned []bool, ls, rs shapes.Shape, a, b []float32) (*simplego.Buffer, bool) {
	outShape := ls
	switch {
	case ls.Equal(rs):
	case rs.Size() == 1 && ls.Size() > 1 && (rs.Rank() == 0 || rs.Rank() == ls.Rank()):
	case ls.Size() == 1 && rs.Size() > 1 && (ls.Rank() == 0 || ls.Rank() == rs.Rank()):
		outShape = rs
	default:
		return nil, false
	}
	n := outShape.Size()
	workers := min(runtime.GOMAXPROCS(0), n/parallelMinElements)
	if workers < 2 {
		return nil, false
	}
	_, _, output, _, _ := binaryOperandsAndOutput(backend, inputs, inputsOwned, outShape)
	out := flatFloat32(output)
	if out == nil {
		return nil, false
	}
	parallelChunks(n, workers, func(_, start, end int) {
		o := out[start:end]
		switch {
		case len(b) == 1 && len(a) > 1:
			rowVS(op, o, a[start:end], b[0])
		case len(a) == 1 && len(b) > 1:
			rowSV(op, o, a[0], b[start:end])
		default:
			rowVV(op, o, a[start:end], b[start:end])
		}
	})
	fastBroadcastRuns.Add(1)
	return output, true
}

// broadcastPlan is a broadcasting binary op over merged axes: dims[k] is the output's size along merged
// axis k, and lb[k] / rb[k] whether the lhs / rhs is broadcast (size 1) along it. The last axis is the
// inner row.
type broadcastPlan struct {
	dims   []int
	lb, rb []bool
	// lStride, rStride are the operands' strides per merged axis (0 where broadcast).
	lStride, rStride []int
}

// newBroadcastPlan drops the output's size-1 axes and merges neighbouring axes along which each operand
// is broadcast alike, so that [B,H,W,C] x [1,1,1,C] becomes [B*H*W, C] x [1, C].
func newBroadcastPlan(out, l, r []int) broadcastPlan {
	var p broadcastPlan
	for k, d := range out {
		if d == 1 {
			continue
		}
		lb, rb := l[k] == 1, r[k] == 1
		if n := len(p.dims); n > 0 && p.lb[n-1] == lb && p.rb[n-1] == rb {
			p.dims[n-1] *= d
			continue
		}
		p.dims, p.lb, p.rb = append(p.dims, d), append(p.lb, lb), append(p.rb, rb)
	}
	n := len(p.dims)
	p.lStride, p.rStride = make([]int, n), make([]int, n)
	ls, rs := 1, 1
	for k := n - 1; k >= 0; k-- {
		if !p.lb[k] {
			p.lStride[k] = ls
			ls *= p.dims[k]
		}
		if !p.rb[k] {
			p.rStride[k] = rs
			rs *= p.dims[k]
		}
	}
	return p
}

// parallelMinRows and parallelMinElements decide when run splits the rows over the cores.
const (
	parallelMinElements = 1 << 15
	parallelMinRows     = 2
)

// run computes out = a op b over the plan.
func (p broadcastPlan) run(op binOp, out, a, b []float32) {
	rows := len(out) / p.dims[len(p.dims)-1]
	parallelChunks(rows, p.workers(len(out), rows), func(_, start, end int) { p.rows(op, out, a, b, start, end) })
}

// workers is how many cores to split rows output rows (elements in all) over: 1 below parallelMinElements.
func (p broadcastPlan) workers(elements, rows int) int {
	if elements < parallelMinElements || rows < parallelMinRows {
		return 1
	}
	return min(runtime.GOMAXPROCS(0), rows)
}

// rows computes output rows [start, end) (a row: the last merged axis).
func (p broadcastPlan) rows(op binOp, out, a, b []float32, start, end int) {
	n := len(p.dims)
	inner := p.dims[n-1]
	// The row's multi-index over the outer axes, and the operands' offsets there.
	idx := make([]int, n-1)
	lo, ro := 0, 0
	rem := start
	for k := n - 2; k >= 0; k-- {
		idx[k] = rem % p.dims[k]
		rem /= p.dims[k]
		lo += idx[k] * p.lStride[k]
		ro += idx[k] * p.rStride[k]
	}
	lInner, rInner := p.lb[n-1], p.rb[n-1]
	for row := start; row < end; row++ {
		o := out[row*inner : (row+1)*inner]
		switch {
		case rInner:
			rowVS(op, o, a[lo:lo+inner], b[ro])
		case lInner:
			rowSV(op, o, a[lo], b[ro:ro+inner])
		default:
			rowVV(op, o, a[lo:lo+inner], b[ro:ro+inner])
		}
		for k := n - 2; k >= 0; k-- { // Next row: odometer over the outer axes.
			idx[k]++
			lo += p.lStride[k]
			ro += p.rStride[k]
			if idx[k] < p.dims[k] {
				break
			}
			lo -= idx[k] * p.lStride[k]
			ro -= idx[k] * p.rStride[k]
			idx[k] = 0
		}
	}
}

// simdRows reports whether rowVV, rowVS, rowSV and the fused square root use their AVX loops (Add, Sub,
// Mul and Div, and Sqrt: correctly rounded in both, so the results are the same bit for bit); false with
// MLKIT_SIMD=0 or without AVX2. Set at init.
var simdRows bool

// rowVV computes out[i] = a[i] op b[i].
func rowVV(op binOp, out, a, b []float32) {
	a, b = a[:len(out)], b[:len(out)]
	if n := len(out) &^ 7; simdRows && op <= opDiv && n > 0 {
		rowVVAVX(int(op), &out[0], &a[0], &b[0], n)
		out, a, b = out[n:], a[n:], b[n:]
	}
	switch op {
	case opAdd:
		for i := range out {
			out[i] = a[i] + b[i]
		}
	case opSub:
		for i := range out {
			out[i] = a[i] - b[i]
		}
	case opMul:
		for i := range out {
			out[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range out {
			out[i] = a[i] / b[i]
		}
	case opMax:
		for i := range out {
			out[i] = max(a[i], b[i])
		}
	case opMin:
		for i := range out {
			out[i] = min(a[i], b[i])
		}
	}
}

// rowVS computes out[i] = a[i] op s.
func rowVS(op binOp, out, a []float32, s float32) {
	a = a[:len(out)]
	if n := len(out) &^ 7; simdRows && op <= opDiv && n > 0 {
		rowVSAVX(int(op), &out[0], &a[0], s, n)
		out, a = out[n:], a[n:]
	}
	switch op {
	case opAdd:
		for i := range out {
			out[i] = a[i] + s
		}
	case opSub:
		for i := range out {
			out[i] = a[i] - s
		}
	case opMul:
		for i := range out {
			out[i] = a[i] * s
		}
	case opDiv:
		for i := range out {
			out[i] = a[i] / s
		}
	case opMax:
		for i := range out {
			out[i] = max(a[i], s)
		}
	case opMin:
		for i := range out {
			out[i] = min(a[i], s)
		}
	}
}

// rowSV computes out[i] = s op b[i].
func rowSV(op binOp, out []float32, s float32, b []float32) {
	b = b[:len(out)]
	if n := len(out) &^ 7; simdRows && op <= opDiv && n > 0 {
		rowSVAVX(int(op), &out[0], s, &b[0], n)
		out, b = out[n:], b[n:]
	}
	switch op {
	case opAdd:
		for i := range out {
			out[i] = s + b[i]
		}
	case opSub:
		for i := range out {
			out[i] = s - b[i]
		}
	case opMul:
		for i := range out {
			out[i] = s * b[i]
		}
	case opDiv:
		for i := range out {
			out[i] = s / b[i]
		}
	case opMax:
		for i := range out {
			out[i] = max(s, b[i])
		}
	case opMin:
		for i := range out {
			out[i] = min(s, b[i])
		}
	}
}

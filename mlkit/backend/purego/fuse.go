package purego

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"runtime"
	"sync/atomic"
	"unsafe" // go:linkname, and the Node mirror

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Elementwise fusion. simplego runs one node at a time, each writing a whole new buffer, so a chain of n
// float32 elementwise operations over a large tensor reads and writes memory n times: Adam's update of
// ResNet50's 25.5M weights is some fifteen such passes. At Compile, the Builder rewrites every chain of
// float32 elementwise nodes (Add, Sub, Mul, Div, Max, Min and the unary ops of fusedUnaryOps, whose
// operands have the node's shape, are scalars or per-channel vectors) into one "fused" node holding a
// small program over the chain's leaves: its executor reads each leaf once, evaluates the program in
// cache-sized chunks and writes one output. An operand is inlined only where its consumer is its only use,
// so nothing is computed twice (see fuseElementwise).
//
// Each operation rounds to float32 exactly as simplego's executors do, in the same order, so results are
// bit-identical to the unfused graph. MLKIT_FUSE=0 turns fusion off (for comparisons).

// FuseEnv is the environment variable that turns elementwise fusion off when set to "0".
const FuseEnv = "MLKIT_FUSE"

// fusedOpType is the simplego op type fused nodes carry: one simplego does not implement (its builder
// refuses FFT), so no node of simplego's own has it; its executor runs fused programs only.
const fusedOpType = backends.OpTypeFFT

// Limits of one fused program: instructions and leaves (operand buffers read per element).
const (
	maxFusedCode   = 32
	maxFusedLeaves = 16
	// fusedChunk is the number of elements evaluated at a time: a few registers of it stay in L1.
	fusedChunk = 512
)

// fusedOp is an instruction's operation: a binOp (binary), or one of the unary ops after them.
type fusedOp int

const (
	fNeg fusedOp = iota + fusedOp(opMin) + 1
	fAbs
	fSign
	fSqrt
	fRsqrt
	fExp
	fLog
	fLogistic
	fTanh
)

// unary reports whether op takes one operand.
func (op fusedOp) unary() bool { return op > fusedOp(opMin) }

// fusedUnaryOps maps the unary op types the Builder fuses to their instruction.
var fusedUnaryOps = map[backends.OpType]fusedOp{
	backends.OpTypeNeg: fNeg, backends.OpTypeAbs: fAbs, backends.OpTypeSign: fSign, backends.OpTypeSqrt: fSqrt,
	backends.OpTypeRsqrt: fRsqrt, backends.OpTypeExp: fExp, backends.OpTypeLog: fLog,
	backends.OpTypeLogistic: fLogistic, backends.OpTypeTanh: fTanh,
}

// leafKind says how a leaf maps onto the output's elements.
type leafKind uint8

const (
	leafFull    leafKind = iota // the output's shape: element i
	leafScalar                  // one element, broadcast
	leafChannel                 // [1, ..., 1, C] against an output whose last axis is C: element i % C
)

// fusedInstr computes op(a) or op(a, b) (b unused for a unary op); operands index the program's values:
// leaves first, then the results of the instructions in order.
type fusedInstr struct {
	op   fusedOp
	a, b int
}

// fusedExpr is a fused node's program.
type fusedExpr struct {
	shape  shapes.Shape     // the output's
	leaves []*simplego.Node // the node's inputs, in order
	kinds  []leafKind
	code   []fusedInstr
}

// fusedRuns counts executed fused nodes, fusedInstrs their instructions (for tests).
var fusedRuns, fusedInstrs atomic.Int64

// fusionOn reports whether the Builder fuses (FuseEnv, and simplego's structs as expected).
var fusionOn = os.Getenv(FuseEnv) != "0" && installFusion()

// getBufferForShape is simplego's: a pooled buffer of the shape (its contents are not cleared).
//
//go:linkname getBufferForShape github.com/gomlx/gomlx/backends/simplego.(*Backend).getBufferForShape
func getBufferForShape(b *simplego.Backend, shape shapes.Shape) *simplego.Buffer

// nodeMirror mirrors simplego.Node's fields (checked by installFusion with sameLayout).
type nodeMirror struct {
	builderIdx         int
	inputs             []*simplego.Node
	opType             backends.OpType
	shape              shapes.Shape
	builder            *simplego.Builder
	multiOutputsShapes []shapes.Shape
	multiOutputsNodes  []*simplego.Node
	isNodeSelectOutput bool
	selectOutputIdx    int
	data               any
}

func mirrorOf(n *simplego.Node) *nodeMirror { return (*nodeMirror)(unsafe.Pointer(n)) }

// installFusion registers the fused nodes' executor; false (no fusion) when simplego does not look as
// expected or already has an executor for fusedOpType.
func installFusion() bool {
	if !sameLayout(reflect.TypeOf(simplego.Node{}), nodeMirror{}) || nodeExecutors[fusedOpType] != nil {
		return false
	}
	nodeExecutors[fusedOpType] = execFused
	return true
}

// leafKindOf returns how an operand of shape s maps onto output shape out; ok is false when it does not.
func leafKindOf(s, out shapes.Shape) (leafKind, bool) {
	switch {
	case s.Equal(out):
		return leafFull, true
	case s.Size() == 1 && (s.Rank() == 0 || s.Rank() == out.Rank()):
		return leafScalar, true
	case s.Rank() == out.Rank() && out.Rank() >= 2 && s.Dimensions[s.Rank()-1] == out.Dimensions[out.Rank()-1] &&
		s.Size() == out.Dimensions[out.Rank()-1]:
		return leafChannel, true // every other axis is 1
	}
	return 0, false
}

// fuseBuilder assembles a program.
type fuseBuilder struct {
	e     fusedExpr
	index map[*simplego.Node]int // leaf -> its index + 1
}

// Value references while building: leaves are >= 0 (their leaf index), instruction results negative
// (codeRef); finish renumbers them into the executor's "leaves, then code" indices.
func codeRef(i int) int { return -1 - i }

// leaf adds n as a leaf (once) and returns its reference.
func (f *fuseBuilder) leaf(n *simplego.Node, kind leafKind) int {
	if i, ok := f.index[n]; ok {
		return i - 1
	}
	f.e.leaves = append(f.e.leaves, n)
	f.e.kinds = append(f.e.kinds, kind)
	f.index[n] = len(f.e.leaves)
	return len(f.e.leaves) - 1
}

// finish renumbers the operands (leaves 0..L-1, instruction i at L+i) and returns the program.
func (f *fuseBuilder) finish() *fusedExpr {
	l := len(f.e.leaves)
	fix := func(v int) int {
		if v < 0 {
			return l + (-1 - v)
		}
		return v
	}
	for i := range f.e.code {
		f.e.code[i].a = fix(f.e.code[i].a)
		if !f.e.code[i].op.unary() {
			f.e.code[i].b = fix(f.e.code[i].b)
		}
	}
	return &f.e
}

// fusedBinaryOps maps the binary op types the pass fuses to their instruction.
var fusedBinaryOps = map[backends.OpType]fusedOp{
	backends.OpTypeAdd: fusedOp(opAdd), backends.OpTypeSub: fusedOp(opSub), backends.OpTypeMul: fusedOp(opMul),
	backends.OpTypeDiv: fusedOp(opDiv), backends.OpTypeMax: fusedOp(opMax), backends.OpTypeMin: fusedOp(opMin),
}

// Compile fuses the graph's slice-concatenations (see fuseSliceConcat) and float32 elementwise chains (see
// fuseElementwise), then compiles it with simplego.
func (b *Builder) Compile(outputs []backends.Op, shardings []*backends.ShardingSpec) (backends.Executable, error) {
	if fusionOn {
		nodes := make([]*simplego.Node, 0, len(outputs))
		for _, o := range outputs {
			n, ok := o.(*simplego.Node)
			if !ok || n == nil {
				nodes = nil
				break
			}
			nodes = append(nodes, n)
		}
		if nodes != nil {
			fuseSliceConcat(reachable(nodes))
			fuseElementwise(nodes)
		}
	}
	return b.Builder.Compile(outputs, shardings)
}

// reachable returns the nodes outputs depend on, in topological order, and the number of uses of each
// (an output counts one more: no fused node can absorb it).
func reachable(outputs []*simplego.Node) ([]*simplego.Node, map[*simplego.Node]int) {
	uses := map[*simplego.Node]int{}
	var order []*simplego.Node
	var visit func(n *simplego.Node)
	visit = func(n *simplego.Node) {
		uses[n]++
		if uses[n] > 1 {
			return
		}
		for _, in := range mirrorOf(n).inputs {
			visit(in)
		}
		order = append(order, n)
	}
	for _, o := range outputs {
		visit(o)
		uses[o]++
	}
	return order, uses
}

// fusable returns the instruction of an elementwise node the pass can fuse (float32, and operands that
// are the node's shape, scalars, or per-channel vectors); ok is false otherwise.
func fusable(m *nodeMirror) (fusedOp, bool) {
	if m.shape.DType != dtypes.Float32 || len(m.multiOutputsShapes) != 0 || m.isNodeSelectOutput {
		return 0, false
	}
	op, ok := fusedBinaryOps[m.opType]
	if ok && len(m.inputs) == 2 {
		for _, in := range m.inputs {
			if _, ok := leafKindOf(mirrorOf(in).shape, m.shape); !ok {
				return 0, false
			}
		}
		return op, true
	}
	op, ok = fusedUnaryOps[m.opType]
	if ok && len(m.inputs) == 1 && mirrorOf(m.inputs[0]).shape.Equal(m.shape) {
		return op, true
	}
	return 0, false
}

// fuseElementwise rewrites, in place, every chain of fusable nodes reachable from outputs into one fused
// node. A fusable operand is inlined into its consumer when the consumer is its only use (so nothing is
// computed twice), has its shape, and the program stays within maxFusedCode instructions and
// maxFusedLeaves leaves; the chain's last node (its root) becomes the fused node, with the chain's leaves
// as inputs, and the inlined nodes, no longer used, are never run. Single operations are left as they
// are (simplego's executors, with this package's fast paths, compute them as fast).
func fuseElementwise(outputs []*simplego.Node) {
	order, uses := reachable(outputs)
	// Bottom-up: which operands each fusable node inlines, within the limits (counts of leaves are upper
	// bounds: a leaf reached twice counts twice).
	type info struct {
		op             fusedOp
		instrs, leaves int
		inline         []bool // per input
	}
	infos := map[*simplego.Node]*info{}
	for _, n := range order {
		m := mirrorOf(n)
		op, ok := fusable(m)
		if !ok {
			continue
		}
		in := &info{op: op, instrs: 1, inline: make([]bool, len(m.inputs))}
		for i, x := range m.inputs {
			xi := infos[x]
			if xi != nil && uses[x] == 1 && mirrorOf(x).shape.Equal(m.shape) {
				in.inline[i] = true
				in.instrs += xi.instrs
				in.leaves += xi.leaves
			} else {
				in.leaves++
			}
		}
		for in.instrs > maxFusedCode || in.leaves > maxFusedLeaves { // Cut the largest inlined operand.
			best := -1
			for i, x := range m.inputs {
				if in.inline[i] && (best < 0 || infos[x].instrs > infos[m.inputs[best]].instrs) {
					best = i
				}
			}
			xi := infos[m.inputs[best]]
			in.inline[best] = false
			in.instrs -= xi.instrs
			in.leaves -= xi.leaves - 1
		}
		infos[n] = in
	}
	// Roots: fusable nodes not inlined into their consumer, with at least one inlined operand.
	inlined := map[*simplego.Node]bool{}
	for _, n := range order {
		if in := infos[n]; in != nil {
			for i, x := range mirrorOf(n).inputs {
				if in.inline[i] {
					inlined[x] = true
				}
			}
		}
	}
	for _, n := range order {
		in := infos[n]
		if in == nil || inlined[n] || in.instrs == 1 {
			continue
		}
		m := mirrorOf(n)
		f := &fuseBuilder{e: fusedExpr{shape: m.shape}, index: map[*simplego.Node]int{}}
		var emit func(x *simplego.Node) int
		emit = func(x *simplego.Node) int {
			xm, xi := mirrorOf(x), infos[x]
			ins := fusedInstr{op: xi.op}
			vals := [2]int{}
			for i, y := range xm.inputs {
				if xi.inline[i] {
					vals[i] = emit(y)
				} else {
					kind, _ := leafKindOf(mirrorOf(y).shape, m.shape)
					vals[i] = f.leaf(y, kind)
				}
			}
			ins.a, ins.b = vals[0], vals[1]
			f.e.code = append(f.e.code, ins)
			return codeRef(len(f.e.code) - 1)
		}
		emit(n)
		e := f.finish()
		m.opType, m.inputs, m.data = fusedOpType, e.leaves, e
	}
}

// fusedValue is a value of a program over one chunk: a vector of the chunk's length, or a scalar.
type fusedValue struct {
	vec      []float32
	s        float32
	isScalar bool
}

// execFused is the executor of fused nodes.
func execFused(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error) {
	e, _ := mirrorOf(node).data.(*fusedExpr)
	if e == nil {
		return nil, fmt.Errorf("%s backend: node of op type %s is not a fused elementwise node (FFT is not supported)", BackendName, fusedOpType)
	}
	if len(inputs) != len(e.leaves) {
		return nil, fmt.Errorf("%s backend: fused node with %d leaves got %d inputs", BackendName, len(e.leaves), len(inputs))
	}
	flats := make([][]float32, len(inputs))
	for i, in := range inputs {
		flats[i] = flatFloat32(in)
		if flats[i] == nil {
			return nil, fmt.Errorf("%s backend: fused node: input %d is not a float32 buffer", BackendName, i)
		}
	}
	// The output: an owned full-shape input (each chunk reads its leaves before writing that chunk of
	// the output, and a full leaf only at the output's own positions), else a pooled buffer (not cleared:
	// every element is written).
	var output *simplego.Buffer
	for i, in := range inputs {
		if inputsOwned[i] && e.kinds[i] == leafFull {
			output = in
			inputs[i] = nil
			break
		}
	}
	if output == nil {
		output = getBufferForShape(backend, e.shape)
	}
	out := flatFloat32(output)
	if out == nil || len(out) < e.shape.Size() {
		return nil, fmt.Errorf("%s backend: fused node: no float32 output buffer of shape %s", BackendName, e.shape)
	}
	n := e.shape.Size()
	out = out[:n]
	workers := max(1, min(runtime.GOMAXPROCS(0), n/parallelMinElements))
	parallelChunks(n, workers, func(_, start, end int) { e.run(flats, out, start, end) })
	fusedRuns.Add(1)
	fusedInstrs.Add(int64(len(e.code)))
	return output, nil
}

// run evaluates the program over output elements [start, end), fusedChunk at a time.
func (e *fusedExpr) run(leaves [][]float32, out []float32, start, end int) {
	nl := len(e.leaves)
	vals := make([]fusedValue, nl+len(e.code))
	size := min(fusedChunk, end-start)
	regs := make([]float32, (len(e.code)+nl)*size)
	reg := func(i int) []float32 { return regs[i*size : (i+1)*size] }
	last := len(e.code) - 1
	for s := start; s < end; s += fusedChunk {
		m := min(fusedChunk, end-s)
		for i, kind := range e.kinds {
			switch kind {
			case leafFull:
				vals[i] = fusedValue{vec: leaves[i][s : s+m]}
			case leafScalar:
				vals[i] = fusedValue{s: leaves[i][0], isScalar: true}
			case leafChannel:
				vals[i] = fusedValue{vec: channelChunk(reg(len(e.code) + i)[:m], leaves[i], s)}
			}
		}
		for k, in := range e.code {
			dst := reg(k)[:m]
			if k == last {
				dst = out[s : s+m]
			}
			vals[nl+k] = applyFused(in, vals, dst)
		}
		if r := vals[nl+last]; r.isScalar { // Only when every operand was a scalar.
			for i := range out[s : s+m] {
				out[s+i] = r.s
			}
		}
	}
}

// channelChunk fills dst with ch repeated along the output's elements from flat index s.
func channelChunk(dst, ch []float32, s int) []float32 {
	c := len(ch)
	off := s % c
	for i := 0; i < len(dst); {
		n := copy(dst[i:], ch[off:])
		i += n
		off = 0
	}
	return dst
}

// applyFused computes one instruction into dst (or as a scalar when its operands are).
func applyFused(in fusedInstr, vals []fusedValue, dst []float32) fusedValue {
	a := vals[in.a]
	if in.op.unary() {
		if a.isScalar {
			one := [1]float32{a.s}
			unaryRow(in.op, one[:], one[:])
			return fusedValue{s: one[0], isScalar: true}
		}
		unaryRow(in.op, dst, a.vec)
		return fusedValue{vec: dst}
	}
	op, b := binOp(in.op), vals[in.b]
	switch {
	case a.isScalar && b.isScalar:
		one := [1]float32{}
		rowVV(op, one[:], []float32{a.s}, []float32{b.s})
		return fusedValue{s: one[0], isScalar: true}
	case b.isScalar:
		rowVS(op, dst, a.vec, b.s)
	case a.isScalar:
		rowSV(op, dst, a.s, b.vec)
	default:
		rowVV(op, dst, a.vec, b.vec)
	}
	return fusedValue{vec: dst}
}

// unaryRow computes out[i] = op(x[i]) with simplego's formulas (float64 math, rounded to float32).
func unaryRow(op fusedOp, out, x []float32) {
	x = x[:len(out)]
	switch op {
	case fNeg:
		for i, v := range x {
			out[i] = -v
		}
	case fAbs:
		for i, v := range x {
			if v < 0 {
				out[i] = -v
			} else {
				out[i] = v
			}
		}
	case fSign:
		if n := len(out) &^ 7; simdRows && n > 0 {
			signAVX(&out[0], &x[0], n)
			out, x = out[n:], x[n:]
		}
		for i, v := range x {
			switch {
			case v < 0:
				out[i] = -1
			case v > 0:
				out[i] = 1
			default:
				out[i] = 0
			}
		}
	case fSqrt:
		if n := len(out) &^ 7; simdRows && n > 0 {
			sqrtAVX(&out[0], &x[0], n)
			out, x = out[n:], x[n:]
		}
		for i, v := range x {
			out[i] = float32(math.Sqrt(float64(v)))
		}
	case fRsqrt:
		for i, v := range x {
			out[i] = float32(1.0 / math.Sqrt(float64(v)))
		}
	case fExp:
		for i, v := range x {
			out[i] = float32(math.Exp(float64(v)))
		}
	case fLog:
		for i, v := range x {
			out[i] = float32(math.Log(float64(v)))
		}
	case fLogistic:
		for i, v := range x {
			if v >= 0 {
				out[i] = float32(1.0 / (1.0 + math.Exp(-float64(v))))
			} else {
				ex := math.Exp(float64(v))
				out[i] = float32(ex / (1.0 + ex))
			}
		}
	case fTanh:
		for i, v := range x {
			out[i] = float32(math.Tanh(float64(v)))
		}
	}
}

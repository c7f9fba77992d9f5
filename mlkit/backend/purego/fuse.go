package purego

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"runtime"
	"slices"
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
// Each operation rounds to float32 exactly as this backend's executors do, in the same order, so results
// are bit-identical to the unfused graph (the logistic function is logisticRow's in both). MLKIT_FUSE=0
// turns fusion off (for comparisons).

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
	leafFull     leafKind = iota // the output's shape: element i
	leafScalar                   // one element, broadcast
	leafPeriodic                 // [1, ..., 1, d_k, ..., d_n] against [..., d_k, ..., d_n]: element i % period
	leafSlice                    // a strided slice (of the output's shape) of a larger input, read in place
)

// fusedLeaf is a value a program reads: node input `input` seen as kind.
type fusedLeaf struct {
	input int
	kind  leafKind
	// period is a leafPeriodic leaf's length.
	period int
	// starts and strides are a leafSlice's, srcDims its input's dimensions and dims its own, after
	// collapseSlice.
	starts, strides, srcDims, dims []int
}

// fusedInstr computes op(a) or op(a, b) (b unused for a unary op); operands index the program's values:
// leaves first, then the results of the instructions in order.
type fusedInstr struct {
	op   fusedOp
	a, b int
}

// fusedExpr is a fused node's program.
type fusedExpr struct {
	shape  shapes.Shape     // the output's
	inputs []*simplego.Node // the node's inputs, in order
	leaves []fusedLeaf
	code   []fusedInstr
}

// fusedRuns counts executed fused nodes, fusedInstrs their instructions, fusedSliceLeaves the slices
// fused programs read in place (for tests).
var fusedRuns, fusedInstrs, fusedSliceLeaves atomic.Int64

// fusionOn reports whether Compile fuses (FuseEnv, and simplego's structs as expected).
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

// leafKindOf returns how an operand of shape s maps onto output shape out (and a periodic leaf's period);
// ok is false when it does not.
func leafKindOf(s, out shapes.Shape) (kind leafKind, period int, ok bool) {
	switch {
	case s.Equal(out):
		return leafFull, 0, true
	case s.Size() == 1 && (s.Rank() == 0 || s.Rank() == out.Rank()):
		return leafScalar, 0, true
	case s.Rank() == out.Rank() && out.Rank() >= 2:
		// Leading axes 1, trailing ones equal to the output's: a per-channel vector [1,1,1,C] of [B,H,W,C],
		// or [1,1,1,C,M] of [B,H,W,C,M].
		k := s.Rank()
		for k > 0 && s.Dimensions[k-1] == out.Dimensions[k-1] {
			k--
		}
		for i := range k {
			if s.Dimensions[i] != 1 {
				return 0, 0, false
			}
		}
		if k == 0 {
			return leafFull, 0, true
		}
		return leafPeriodic, s.Size(), true
	}
	return 0, 0, false
}

// fuseBuilder assembles a program.
type fuseBuilder struct {
	e      fusedExpr
	index  map[*simplego.Node]int // leaf node -> its leaf index + 1
	inputs map[*simplego.Node]int // input node -> its input index + 1
}

// Value references while building: leaves are >= 0 (their leaf index), instruction results negative
// (codeRef); finish renumbers them into the executor's "leaves, then code" indices.
func codeRef(i int) int { return -1 - i }

// input returns the input index of node n, adding it.
func (f *fuseBuilder) input(n *simplego.Node) int {
	if i, ok := f.inputs[n]; ok {
		return i - 1
	}
	f.e.inputs = append(f.e.inputs, n)
	f.inputs[n] = len(f.e.inputs)
	return len(f.e.inputs) - 1
}

// leaf adds operand n (once) as a leaf of the output's shape out and returns its reference: a single-use
// float32 Slice (uses: the reachable use counts) of the output's shape is read in place from its input,
// anything else as leafKindOf says.
func (f *fuseBuilder) leaf(n *simplego.Node, out shapes.Shape, uses map[*simplego.Node]int) int {
	if i, ok := f.index[n]; ok {
		return i - 1
	}
	m := mirrorOf(n)
	var l fusedLeaf
	if sp := sliceParams(m); m.opType == backends.OpTypeSlice && sp != nil && uses[n] == 1 && len(m.inputs) == 1 &&
		m.shape.Equal(out) && len(sp.starts) == out.Rank() && len(sp.strides) == out.Rank() {
		src := m.inputs[0]
		l = fusedLeaf{input: f.input(src), kind: leafSlice}
		l.srcDims, l.starts, l.strides, l.dims = collapseSlice(mirrorOf(src).shape.Dimensions, sp.starts, sp.strides, out.Dimensions)
		fusedSliceLeaves.Add(1)
	} else {
		kind, period, _ := leafKindOf(m.shape, out)
		l = fusedLeaf{input: f.input(n), kind: kind, period: period}
	}
	f.e.leaves = append(f.e.leaves, l)
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
			if _, _, ok := leafKindOf(mirrorOf(in).shape, m.shape); !ok {
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
		f := &fuseBuilder{e: fusedExpr{shape: m.shape}, index: map[*simplego.Node]int{}, inputs: map[*simplego.Node]int{}}
		var emit func(x *simplego.Node) int
		emit = func(x *simplego.Node) int {
			xm, xi := mirrorOf(x), infos[x]
			ins := fusedInstr{op: xi.op}
			vals := [2]int{}
			for i, y := range xm.inputs {
				if xi.inline[i] {
					vals[i] = emit(y)
				} else {
					vals[i] = f.leaf(y, m.shape, uses)
				}
			}
			ins.a, ins.b = vals[0], vals[1]
			f.e.code = append(f.e.code, ins)
			return codeRef(len(f.e.code) - 1)
		}
		emit(n)
		e := f.finish()
		m.opType, m.inputs, m.data = fusedOpType, e.inputs, e
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
	if len(inputs) != len(e.inputs) {
		return nil, fmt.Errorf("%s backend: fused node with %d inputs got %d", BackendName, len(e.inputs), len(inputs))
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
		if inputsOwned[i] && e.onlyFull(i) {
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
func (e *fusedExpr) run(inputs [][]float32, out []float32, start, end int) {
	nl := len(e.leaves)
	vals := make([]fusedValue, nl+len(e.code))
	size := min(fusedChunk, end-start)
	regs := make([]float32, (len(e.code)+nl)*size)
	reg := func(i int) []float32 { return regs[i*size : (i+1)*size] }
	last := len(e.code) - 1
	for s := start; s < end; s += fusedChunk {
		m := min(fusedChunk, end-s)
		for i, l := range e.leaves {
			src := inputs[l.input]
			switch l.kind {
			case leafFull:
				vals[i] = fusedValue{vec: src[s : s+m]}
			case leafScalar:
				vals[i] = fusedValue{s: src[0], isScalar: true}
			case leafPeriodic:
				vals[i] = fusedValue{vec: channelChunk(reg(len(e.code) + i)[:m], src[:l.period], s)}
			case leafSlice:
				vals[i] = fusedValue{vec: sliceChunk(reg(len(e.code) + i)[:m], src, l.srcDims, l.starts, l.strides, l.dims, s)}
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

// onlyFull reports whether every leaf that reads input i reads it as leafFull (so the output may be
// written over it).
func (e *fusedExpr) onlyFull(i int) bool {
	for _, l := range e.leaves {
		if l.input == i && l.kind != leafFull {
			return false
		}
	}
	return true
}

// collapseSlice merges each axis of a slice (source dimensions src, starts, strides, output dimensions
// out) with the next one when both have stride 1 and the next is taken whole: the same elements in the
// same order, in longer contiguous rows ([n,h,w,c,1] taps of a depthwise gradient become [n,h,w*c] rows).
func collapseSlice(src, starts, strides, out []int) (src2, starts2, strides2, out2 []int) {
	n := len(out)
	src2, starts2, strides2, out2 = []int{src[n-1]}, []int{starts[n-1]}, []int{strides[n-1]}, []int{out[n-1]}
	for k := n - 2; k >= 0; k-- {
		j := len(out2) - 1 // the current innermost-so-far merged axis is out2[j]... built back to front
		if strides[k] == 1 && strides2[j] == 1 && starts2[j] == 0 && out2[j] == src2[j] {
			starts2[j] = starts[k] * src2[j]
			out2[j] *= out[k]
			src2[j] *= src[k]
			continue
		}
		src2, starts2, strides2, out2 = append(src2, src[k]), append(starts2, starts[k]), append(strides2, strides[k]), append(out2, out[k])
	}
	slices.Reverse(src2)
	slices.Reverse(starts2)
	slices.Reverse(strides2)
	slices.Reverse(out2)
	return src2, starts2, strides2, out2
}

// sliceChunk fills dst with the elements, from output flat index s on, of the slice of src (dimensions
// srcDims) from starts with strides whose shape is outDims: a row (the last axis) at a time.
func sliceChunk(dst, src []float32, srcDims, starts, strides, outDims []int, s int) []float32 {
	rank := len(outDims)
	var idxBuf [8]int
	idx := idxBuf[:0]
	if rank > len(idxBuf) {
		idx = make([]int, 0, rank)
	}
	idx = idx[:rank]
	// Element strides in src per output axis, and the offset of output element s.
	var stepBuf [8]int
	step := stepBuf[:0]
	if rank > len(stepBuf) {
		step = make([]int, 0, rank)
	}
	step = step[:rank]
	inStride := 1
	for k := rank - 1; k >= 0; k-- {
		step[k] = strides[k] * inStride
		inStride *= srcDims[k]
	}
	rem, off := s, 0
	inStride = 1
	for k := rank - 1; k >= 0; k-- {
		idx[k] = rem % outDims[k]
		rem /= outDims[k]
		off += starts[k] * inStride
		off += idx[k] * step[k]
		inStride *= srcDims[k]
	}
	last := rank - 1
	rowLen := outDims[last]
	for i := 0; i < len(dst); {
		n := min(rowLen-idx[last], len(dst)-i)
		if step[last] == 1 {
			copy(dst[i:i+n], src[off:off+n])
		} else {
			for j := range n {
				dst[i+j] = src[off+j*step[last]]
			}
		}
		i += n
		// Move to the start of the next row.
		off -= idx[last] * step[last]
		idx[last] = 0
		for k := last - 1; k >= 0; k-- {
			idx[k]++
			off += step[k]
			if idx[k] < outDims[k] {
				break
			}
			off -= idx[k] * step[k]
			idx[k] = 0
		}
	}
	return dst
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
		logisticRow(out, x)
	case fTanh:
		for i, v := range x {
			out[i] = float32(math.Tanh(float64(v)))
		}
	}
}

package purego

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// The logistic function (sigmoid: EfficientNet's SiLU and squeeze-excite gates) was a third of
// EfficientNet-B0's inference on this backend, in float64 math.Exp per element. logisticRow computes it in
// float64 lanes with AVX2 (logistic_amd64.s): the same formula, its exp accurate to a few float64 ulps, so
// the float32 results equal the per-element ones except, rarely, in the last bit. Fused programs and the
// Logistic op both use it, so they agree with each other bit for bit.

// fastLogisticInstalled reports whether installFastLogistic took over simplego's float32 Logistic.
var fastLogisticInstalled = installFastLogistic()

// installFastLogistic makes the Logistic executor compute float32 operands with logisticRow (with the AVX
// loop when simdRows; installParallelUnary then splits large ones over the cores); other dtypes go to
// simplego's.
func installFastLogistic() bool {
	orig := nodeExecutors[backends.OpTypeLogistic]
	if orig == nil {
		return false
	}
	nodeExecutors[backends.OpTypeLogistic] = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error) {
		if len(inputs) != 1 || len(inputsOwned) != 1 || bufferShape(inputs[0]).DType != dtypes.Float32 {
			return orig(backend, node, inputs, inputsOwned)
		}
		src := flatFloat32(inputs[0])
		if src == nil {
			return orig(backend, node, inputs, inputsOwned)
		}
		_, output := unaryOperandAndOutput(backend, inputs, inputsOwned)
		out := flatFloat32(output)
		if out == nil || len(out) < len(src) {
			return orig(backend, node, inputs, inputsOwned) // Cannot happen: a float32 buffer of the operand's shape.
		}
		logisticRow(out[:len(src)], src)
		return output, nil
	}
	return true
}

// logisticRow computes out[i] = 1/(1+exp(-x[i])) (x >= 0) or exp(x)/(1+exp(x)) (x < 0): with the AVX loop
// when simdRows (a tail shorter than 4 through a 4-element buffer, so that every element takes the same
// path wherever a chunk starts), else simplego's float64 formula.
func logisticRow(out, x []float32) {
	x = x[:len(out)]
	if !simdRows {
		for i, v := range x {
			out[i] = logistic64(v)
		}
		return
	}
	n := len(out) &^ 3
	if n > 0 {
		logisticAVX(&out[0], &x[0], n)
	}
	if rest := len(out) - n; rest > 0 {
		var in4, out4 [4]float32
		copy(in4[:], x[n:])
		logisticAVX(&out4[0], &in4[0], 4)
		copy(out[n:], out4[:rest])
	}
}

// logistic64 is simplego's per-element logistic.
func logistic64(v float32) float32 {
	if v >= 0 {
		return float32(1.0 / (1.0 + math.Exp(-float64(v))))
	}
	ex := math.Exp(float64(v))
	return float32(ex / (1.0 + ex))
}

package backend_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// smallCNN is conv3x3(3->8) + batch norm (training mode) + relu + maxpool + depthwise conv3x3 + conv1x1(8->8)
// + relu + global mean + dense(8->2). params: w1 [3,3,3,8], scale [8], offset [8], dw [3,3,1,8], w2 [1,1,8,8],
// w3 [8,2].
func smallCNN(x *Node, p []*Node) *Node {
	y := Convolve(x, p[0]).Strides(1).PadSame().Done()
	y, _, _ = InternalBatchNormForTraining(y, p[1], p[2], 1e-3, 3)
	y = Max(y, ScalarZero(y.Graph(), y.DType()))
	y = MaxPool(y).Window(2).Strides(2).Done()
	y = Convolve(y, p[3]).Strides(1).PadSame().ChannelGroupCount(8).Done()
	y = Convolve(y, p[4]).Strides(1).NoPadding().Done()
	y = Max(y, ScalarZero(y.Graph(), y.DType()))
	y = ReduceMean(y, 1, 2)
	return Dot(y, p[5])
}

func TestSmallCNNTrainingStep(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		rng := rand.New(rand.NewPCG(11, 12))
		const n, size = 16, 8
		images := make([]float32, n*size*size*3)
		labels := make([]float32, n*2)
		for i := range n {
			class := i % 2
			labels[i*2+class] = 1
			for h := range size {
				for w := range size {
					for c := range 3 {
						v := float32(rng.NormFloat64()) * 0.3
						if class == 1 && h < size/2 && w < size/2 {
							v += 1
						}
						images[((i*size+h)*size+w)*3+c] = v
					}
				}
			}
		}
		paramDims := [][]int{{3, 3, 3, 8}, {8}, {8}, {3, 3, 1, 8}, {1, 1, 8, 8}, {8, 2}}
		params := make([]*tensors.Tensor, len(paramDims))
		for i, dims := range paramDims {
			v := make([]float32, prod(dims))
			for j := range v {
				switch i {
				case 1:
					v[j] = 1
				case 2:
					v[j] = 0
				default:
					v[j] = float32(rng.NormFloat64()) * 0.3
				}
			}
			params[i] = tensors.FromFlatDataAndDimensions(v, dims...)
		}
		// One SGD step: inputs are images, labels and the parameters; outputs the loss and the new parameters.
		step, err := NewExec(b, func(in []*Node) []*Node {
			x, y, p := in[0], in[1], in[2:]
			logits := smallCNN(x, p)
			loss := Neg(ReduceAllMean(ReduceSum(Mul(y, LogSoftmax(logits, -1)), -1)))
			grads := Gradient(loss, p...)
			out := []*Node{loss}
			for i := range p {
				out = append(out, Sub(p[i], MulScalar(grads[i], 0.5)))
			}
			return out
		})
		if err != nil {
			t.Fatalf("NewExec(train step): %v", err)
		}
		xs, ys := tensors.FromFlatDataAndDimensions(images, n, size, size, 3), tensors.FromFlatDataAndDimensions(labels, n, 2)
		var first, last float32
		for s := range 30 {
			args := []any{xs, ys}
			for _, p := range params {
				args = append(args, p)
			}
			outs, err := step.Exec(args...)
			if err != nil {
				t.Fatalf("train step %d: %v", s, err)
			}
			last = tensors.MustCopyFlatData[float32](outs[0])[0]
			if s == 0 {
				first = last
			}
			copy(params, outs[1:])
		}
		t.Logf("loss: first step %.4f, after 30 steps %.4f", first, last)
		if !(last < 0.5*first) {
			t.Errorf("loss did not decrease enough: first %.4f, last %.4f (want < half)", first, last)
		}
	})
}

package nn

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
)

// SqueezeExcite is torchvision's SqueezeExcitation with SiLU: for channels-last x [B, H, W, C],
// s = mean over H,W; s = SiLU(fc1(s)); s = sigmoid(fc2(s)); return x * s. fc1 and fc2 are 1x1
// convolutions with bias, stored as sub-scopes "fc1" and "fc2" with "weight" [1, 1, C, squeeze] /
// [1, 1, squeeze, C] and "bias" (PyTorch keys fc1.weight [squeeze, C, 1, 1], fc1.bias, ...),
// Kaiming-normal fan-out initialised as in torchvision's EfficientNet.
func SqueezeExcite(ctx *context.Context, x *Node, squeeze int) *Node {
	g := x.Graph()
	c := x.Shape().Dimensions[x.Rank()-1]
	s := ReduceMean(x, 1, 2) // [B, C]
	fc := func(name string, in *Node, from, to int) *Node {
		sub := ctx.In(name)
		w := sub.WithInitializer(initializers.RandomNormalFn(sub, math.Sqrt(2/float64(to)))).
			VariableWithShape(ParamWeight, shapes.Make(x.DType(), 1, 1, from, to))
		b := sub.WithInitializer(initializers.Zero).VariableWithShape(ParamBias, shapes.Make(x.DType(), to))
		return Add(MatrixProduct(in, Reshape(w.ValueGraph(g), from, to)), Reshape(b.ValueGraph(g), 1, to))
	}
	s = activations.Swish(fc("fc1", s, c, squeeze))
	s = Sigmoid(fc("fc2", s, squeeze, c))
	return Mul(x, Reshape(s, -1, 1, 1, c))
}

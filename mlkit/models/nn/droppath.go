package nn

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// DropPath is stochastic depth in torchvision's "row" mode: during training (ctx.IsTraining(g)) each
// example of the batch (axis 0) keeps x with probability 1-p, scaled by 1/(1-p), or gets zeros; in
// inference, or with p == 0, it returns x unchanged. Apply it to a residual branch before the sum.
func DropPath(ctx *context.Context, x *Node, p float64) *Node {
	if p < 0 || p >= 1 {
		panic(fmt.Errorf("nn.DropPath in scope %q: drop probability %g must be in [0, 1)", ctx.Scope(), p))
	}
	g := x.Graph()
	if p == 0 || !ctx.IsTraining(g) {
		return x
	}
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[0] = x.Shape().Dimensions[0]
	keep := ctx.RandomBernoulli(Scalar(g, x.DType(), 1-p), shapes.Make(x.DType(), dims...))
	return Mul(x, MulScalar(keep, 1/(1-p)))
}

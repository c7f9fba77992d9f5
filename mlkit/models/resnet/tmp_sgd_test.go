package resnet_test

import (
	"testing"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/nn/nntest"
)

func BenchmarkTmpSGD(b *testing.B) {
	cfg := models.New().Classes(5).Size(64)
	be := newBackend(b)
	ctx := context.New()
	opt := optimizers.StochasticGradientDescent()
	step := context.MustNewExec(be, ctx, func(ctx *context.Context, images, labels *Node) *Node {
		g := images.Graph()
		ctx.SetTraining(g, true)
		loss := ReduceAllMean(losses.SparseCategoricalCrossEntropyLogits([]*Node{labels}, []*Node{resnet50(ctx, images, cfg)}))
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	x := nntest.Input(0, 8, 64)
	lf := make([]int32, 8)
	y := tensors.FromFlatDataAndDimensions(lf, 8, 1)
	t0 := time.Now()
	step.MustExec1(x, y)
	b.Logf("first %v", time.Since(t0))
	b.ResetTimer()
	for b.Loop() {
		step.MustExec1(x, y)
	}
	b.ReportMetric(float64(8*b.N)/b.Elapsed().Seconds(), "img/s")
}

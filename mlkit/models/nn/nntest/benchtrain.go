package nntest

import (
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// BenchmarkTrainStep measures the training-step throughput (images/s) of model (logits for 5 classes)
// with Adam on be, as the bench's *_train cells do, on batch images of size x size (Input); the first
// step (graph build and compilation) is logged, not timed.
func BenchmarkTrainStep(b *testing.B, be backends.Backend, model func(ctx *context.Context, images *Node) *Node, batch, size int) {
	ctx := context.New()
	opt := optimizers.Adam().Done()
	step := context.MustNewExec(be, ctx, func(ctx *context.Context, images, labels *Node) *Node {
		g := images.Graph()
		ctx.SetTraining(g, true)
		loss := ReduceAllMean(losses.SparseCategoricalCrossEntropyLogits([]*Node{labels}, []*Node{model(ctx, images)}))
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	x := Input(0, batch, size)
	lf := make([]int32, batch)
	for i := range lf {
		lf[i] = int32(i % 5)
	}
	y := tensors.FromFlatDataAndDimensions(lf, batch, 1)
	t0 := time.Now()
	step.MustExec1(x, y)
	b.Logf("first step (build + compile) %.1fs", time.Since(t0).Seconds())
	b.ResetTimer()
	for b.Loop() {
		step.MustExec1(x, y)
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

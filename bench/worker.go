package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	_ "github.com/visionnb/visionnb/mlkit/backend" // registers "mlkitgo", disables go-xla downloads.
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/efficientnet"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
)

const numClasses = 5

// runWorker measures one workload on one backend and prints one JSON result line.
func runWorker(name, backendName string) {
	r := result{Workload: name, Backend: backendName}
	if err := measure(name, backendName, *flagSteps, *flagMinTime, &r); err != nil {
		r.Error = err.Error()
	}
	line, _ := json.Marshal(r)
	fmt.Println(string(line))
}

// maxTimedSteps bounds the timed steps of one measurement however fast they are.
const maxTimedSteps = 100000

func measure(name, backendName string, steps int, minTime time.Duration, r *result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	var w *workload
	for i := range workloads {
		if workloads[i].Name == name {
			w = &workloads[i]
		}
	}
	if w == nil {
		return fmt.Errorf("unknown workload %q", name)
	}
	b, err := backends.NewWithConfig(backendName)
	if err != nil {
		return fmt.Errorf("backend %q: %w", backendName, err)
	}
	defer b.Finalize()

	ctx := context.New()
	var input *tensors.Tensor
	if w.Model == "dense_head" {
		input = synthetic(w.Batch, 1280)
	} else {
		input = synthetic(w.Batch, w.Size, w.Size, 3)
	}
	labelsFlat := make([]int32, w.Batch)
	for i := range labelsFlat {
		labelsFlat[i] = int32(i % numClasses)
	}
	labels := tensors.FromFlatDataAndDimensions(labelsFlat, w.Batch, 1)
	var model func(ctx *context.Context, x *Node) *Node
	switch w.Model {
	case "dense_head":
		model = func(ctx *context.Context, x *Node) *Node { return layers.Dense(ctx, x, true, numClasses) }
	case "efficientnet_b0":
		// torchvision's B0 configuration, with its dropout and stochastic depth, as the PyTorch run has.
		model = func(ctx *context.Context, x *Node) *Node {
			return efficientnet.Build(ctx, x, efficientnet.Config(0).Classes(numClasses).Size(w.Size))
		}
	default:
		spec, err := zoo.Lookup(w.Model)
		if err != nil || !spec.Trainable() {
			return fmt.Errorf("benchmark model %q: not a trainable registered model (%v)", w.Model, err)
		}
		model = func(ctx *context.Context, x *Node) *Node {
			return spec.Build(ctx, x, models.New().Classes(numClasses).Size(w.Size))
		}
	}

	var step func() error
	if w.Train {
		trainer := train.NewTrainer(b, ctx,
			func(ctx *context.Context, _ any, inputs []*Node) []*Node { return []*Node{model(ctx, inputs[0])} },
			losses.SparseCategoricalCrossEntropyLogits, optimizers.Adam().Done(), nil, nil)
		step = func() error {
			_, err := trainer.TrainStep(nil, []*tensors.Tensor{input}, []*tensors.Tensor{labels})
			return err
		}
		if w.Devices > 1 {
			if step, err = dataParallelStep(trainer, b, w.Devices, input, labels); err != nil {
				return err
			}
		}
	} else {
		e, err := context.NewExec(b, ctx, func(ctx *context.Context, x *Node) *Node { return model(ctx, x) })
		if err != nil {
			return fmt.Errorf("building the inference graph: %w", err)
		}
		step = func() error {
			out, err := e.Exec(input)
			if err == nil {
				for _, t := range out {
					t.FinalizeAll()
				}
			}
			return err
		}
	}

	t0 := time.Now()
	if err := step(); err != nil {
		return fmt.Errorf("first step: %w", err)
	}
	r.FirstStepS = time.Since(t0).Seconds()
	// At least `steps` timed steps, and more until they took minTime (a dense-head step is a millisecond:
	// three of them measure the timer, not the step).
	t1 := time.Now()
	n := 0
	for n < steps || (time.Since(t1) < minTime && n < maxTimedSteps) {
		if err := step(); err != nil {
			return fmt.Errorf("step %d: %w", n+1, err)
		}
		n++
	}
	steps = n
	elapsed := time.Since(t1).Seconds()
	r.Steps = steps
	r.StepS = elapsed / float64(steps)
	r.PerSecond = float64(w.Batch*steps) / elapsed
	fmt.Fprintf(os.Stderr, "%s on %s: %.3f %s\n", name, backendName, r.PerSecond, w.Unit)
	return nil
}

// synthetic returns a deterministic float32 tensor with values in [-1, 1].
func synthetic(dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((i*7919)%2001)/1000 - 1
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// dataParallelStep is trainer's step with the batch split over the first n devices of b (GoMLX's
// AutoSharding: inputs sharded on the batch axis, weights replicated, XLA all-reducing the gradients), the
// mechanism mlkit's train.Options.Devices uses.
func dataParallelStep(trainer *train.Trainer, b backends.Backend, n int, input, labels *tensors.Tensor) (func() error, error) {
	if have := b.NumDevices(); have < n {
		return nil, fmt.Errorf("backend %s has %d devices, the workload needs %d", b.Name(), have, n)
	}
	mesh, err := distributed.NewDeviceMesh([]int{n}, []string{"batch"})
	if err != nil {
		return nil, err
	}
	spec, err := distributed.NewShardingSpec(mesh, distributed.AxisSpec{"batch"})
	if err != nil {
		return nil, err
	}
	in, err := distributed.ShardTensor(spec, input)
	if err != nil {
		return nil, fmt.Errorf("splitting the images over %d devices: %w", n, err)
	}
	lab, err := distributed.ShardTensor(spec, labels)
	if err != nil {
		return nil, fmt.Errorf("splitting the labels over %d devices: %w", n, err)
	}
	assignment := make([]backends.DeviceNum, n)
	for i := range assignment {
		assignment[i] = backends.DeviceNum(i)
	}
	return func() error {
		_, err := trainer.DistributedTrainStep(distributed.AutoSharding, assignment, nil,
			[]*distributed.Tensor{in}, []*distributed.Tensor{lab})
		return err
	}, nil
}

package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Data-parallel training (Options.Devices).
//
// The training step is GoMLX's distributed AutoSharding: the graph is the single-device graph of the global
// batch, its inputs (images, labels, weights) are sharded along the batch axis over a 1-D mesh of the
// devices, every variable (weights, optimiser moments, batch-norm averages, global step, random state) is
// replicated, and XLA's Shardy partitioner inserts the all-reduces: of the gradients, and of the reductions
// over the batch axis in the forward pass. So batch norm normalises with the statistics of the whole
// global batch (SyncBN), and the loss and updated weights are those of one device on the same batch, up to
// float32 summation order. Validation and prediction run on the first device (their variables are merged
// from the replicas, which hold the same values).

// allDevices is Options.devices for "every device of the backend" (Devices(0)).
const allDevices = math.MinInt

// devicesFlag names the option in messages: the CLI flag and the Options method.
const devicesFlag = "--devices (Options.Devices)"

// resolveDevices returns the number of devices a run asks for (o.devices) on backend b: 1 by default, all of
// b's devices for Devices(0). More than one needs an XLA backend with that many devices.
func resolveDevices(b backends.Backend, requested int) (int, error) {
	switch {
	case requested == 0:
		return 1, nil
	case requested == allDevices:
		if !isXLA(b) {
			return 1, nil // The pure-Go backends have one device: "all" is that one.
		}
		return max(1, b.NumDevices()), nil
	case requested < 0:
		return 0, fmt.Errorf("%s = %d: need 0 (all devices) or a positive number", devicesFlag, requested)
	case requested == 1:
		return 1, nil
	}
	if !isXLA(b) {
		return 0, fmt.Errorf("%s = %d: the %s backend trains on one device; data-parallel training needs XLA (xla:cpu or xla:cuda, see `make setup`)",
			devicesFlag, requested, b.Name())
	}
	if have := b.NumDevices(); requested > have {
		hint := ""
		if strings.Contains(b.Name(), "cpu") {
			hint = " (XLA_FLAGS=--xla_force_host_platform_device_count=N sets the number of host devices)"
		}
		return 0, fmt.Errorf("%s = %d: backend %s has %d device(s)%s", devicesFlag, requested, b.Name(), have, hint)
	}
	return requested, nil
}

// isXLA reports whether b is one of GoMLX's XLA (PJRT) backends, the ones that can run a program on several
// devices.
func isXLA(b backends.Backend) bool { return strings.HasPrefix(b.Name(), "xla") }

// checkDeviceBatch refuses a batch size that does not split evenly over the devices.
func checkDeviceBatch(batch, devices int) error {
	if devices > 1 && batch%devices != 0 {
		lo := batch / devices * devices
		return fmt.Errorf("batch size %d does not divide by %d devices (%s): use a multiple of %d, e.g. %d or %d",
			batch, devices, devicesFlag, devices, max(lo, devices), lo+devices)
	}
	return nil
}

// dataParallel is the distribution of a training step over devices.
type dataParallel struct {
	devices int
	// batch shards an input along its first (batch) axis; replicated copies a value to every device.
	batch, replicated *distributed.ShardingSpec
}

// newDataParallel makes the 1-D mesh of the first n devices and its sharding specs.
func newDataParallel(n int) (*dataParallel, error) {
	mesh, err := distributed.NewDeviceMesh([]int{n}, []string{"batch"})
	if err != nil {
		return nil, fmt.Errorf("making a mesh of %d devices: %w", n, err)
	}
	spec, err := distributed.NewShardingSpec(mesh, distributed.AxisSpec{"batch"})
	if err != nil {
		return nil, fmt.Errorf("sharding the batch over %d devices: %w", n, err)
	}
	return &dataParallel{devices: n, batch: spec, replicated: distributed.NewReplicatedShardingSpec(mesh)}, nil
}

// configure turns exec (whose numInputs inputs all have the batch as first axis) into a data-parallel
// step: inputs sharded, outputs replicated, devices 0..n-1.
func (dp *dataParallel) configure(exec *context.Exec, numInputs int) {
	specs := make([]*distributed.ShardingSpec, numInputs)
	for i := range specs {
		specs[i] = dp.batch
	}
	assignment := make([]backends.DeviceNum, dp.devices)
	for i := range assignment {
		assignment[i] = backends.DeviceNum(i)
	}
	exec.AutoSharding(dp.batch.Mesh).WithInputShardingSpecs(specs...).
		WithOutputShardingSpecs(dp.replicated).WithDeviceAssignment(assignment)
}

// run executes a configured exec on whole-batch host tensors: it splits each along the batch axis, runs,
// and returns the first device's copy of each (replicated) output. The shards are freed.
func (dp *dataParallel) run(exec *context.Exec, args ...*tensors.Tensor) ([]*tensors.Tensor, error) {
	sharded := make([]any, len(args))
	var shards []*distributed.Tensor
	defer func() {
		for _, s := range shards {
			_ = s.FinalizeAll()
		}
	}()
	for i, a := range args {
		s, err := distributed.ShardTensor(dp.batch, a)
		if err != nil {
			return nil, fmt.Errorf("splitting input %d (shape %s) over %d devices: %w", i, a.Shape(), dp.devices, err)
		}
		shards = append(shards, s)
		sharded[i] = s
	}
	out, err := runExec(exec, sharded...)
	if err != nil {
		return nil, err
	}
	perDevice := len(out) / dp.devices
	first := out[:perDevice]
	for _, t := range out[perDevice:] {
		t.FinalizeAll()
	}
	return first, nil
}

// setupDevices resolves the run's device count on the engine's backend and, for more than one, checks the
// batch size and prepares the mesh.
func (e *engine) setupDevices() error {
	n, err := resolveDevices(e.backend, e.requestedDevices)
	if err != nil {
		return err
	}
	e.devices, e.parallel = n, nil
	if n == 1 {
		return nil
	}
	if err := checkDeviceBatch(e.config.BatchSize, n); err != nil {
		return err
	}
	e.parallel, err = newDataParallel(n)
	return err
}

// runTrainExec runs the training step on (x, labels, weights): on one device, or split over the devices.
func (e *engine) runTrainExec(args ...*tensors.Tensor) ([]*tensors.Tensor, error) {
	if e.parallel == nil {
		anyArgs := make([]any, len(args))
		for i, a := range args {
			anyArgs[i] = a
		}
		return runExec(e.trainExec, anyArgs...)
	}
	return e.parallel.run(e.trainExec, args...)
}

package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/visionnb/visionnb/mlkit/internal/atomicfile"
	"github.com/visionnb/visionnb/mlkit/internal/vecmath"
	"github.com/visionnb/visionnb/mlkit/models"
)

// File names inside a run's output directory.
const (
	// ConfigFile describes the run (RunConfig as JSON).
	ConfigFile = "config.json"
	// HistoryFile holds the per-epoch history (as JSON), rewritten after every epoch.
	HistoryFile = "history.json"
	// CheckpointDir holds GoMLX checkpoints of the latest epochs (weights, optimiser state, random state).
	CheckpointDir = "checkpoints"
	// BestDir holds the weights of the best validation epoch when early stopping restores them.
	BestDir = "best"
)

// modelScope is the context scope of every model variable.
const modelScope = "model"

// dataSource supplies one split's model inputs.
type dataSource interface {
	// Len is the number of examples.
	Len() int
	// Label of example i.
	Label(i int) int
	// Batch returns the input tensor for examples idx (len(idx) = batch size). When augment is true the
	// source may augment deterministically from (epoch, idx[k]).
	Batch(idx []int, epoch int, augment bool) (*tensors.Tensor, error)
}

// modelFn maps a batch of raw inputs (as the dataSource yields them) to logits [batch, classes].
type modelFn func(ctx *context.Context, x *Node) *Node

// history is what history.json holds.
type history struct {
	Epochs       []EpochStats `json:"epochs"`
	Finished     bool         `json:"finished"`
	StoppedEarly bool         `json:"stopped_early"`
	BestEpoch    int          `json:"best_epoch"`
}

// engine runs one training job: the run's settings are those of config (which it saves), nothing else.
type engine struct {
	backend     backends.Backend
	backendName string
	model       modelFn
	config      *RunConfig
	progress    Progress
	outDir      string
	train, val  dataSource
	// prepare, when set, runs on the context after it is created or read back from a checkpoint and before
	// the graphs are built; fresh is true for a new run (false when resuming). Fine-tuning loads the
	// pretrained weights there.
	prepare func(ctx *context.Context, fresh bool) error
	// lrScale, when set, multiplies the scheduled learning rate of each variable (discriminative
	// learning rates); see schedule.varLR.
	lrScale func(v *context.Variable) float64

	// Derived.
	ctx           *context.Context
	numClasses    int
	stepsPerEpoch int
	sched         schedule
	classWeights  []float32
	trainExec     *context.Exec
	evalExec      *context.Exec
	// globalStep counts the training steps taken, those of the epochs resumed from included: trainStep feeds
	// the schedule's learning rate of step globalStep+1 and increments it.
	globalStep int64
	// requestedDevices is Options.devices; devices the count the training step runs on, and parallel its
	// distribution when that is more than one (see devices.go).
	requestedDevices, devices int
	parallel                  *dataParallel
}

// newEngine prepares a run of model with cfg's settings on train, reporting and saving as o says.
func newEngine(b backends.Backend, name string, model modelFn, cfg *RunConfig, o Options, train dataSource) *engine {
	return &engine{backend: b, backendName: name, model: model, config: cfg,
		progress: pickProgress(o.progress, o.quiet), outDir: o.outputDir, train: train, requestedDevices: o.devices}
}

// permutation returns the training order of epoch (1-based): a function of (seed, epoch) only.
func permutation(n int, seed int64, epoch int) []int {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(epoch)*0x9E3779B97F4A7C15+1))
	return r.Perm(n)
}

func (e *engine) setup() error {
	c := e.config
	if err := c.Settings.validate(); err != nil {
		return err
	}
	e.numClasses = len(c.Classes)
	n := e.train.Len()
	c.BatchSize = cappedBatch(c.BatchSize, n) // Small training sets: one full batch per epoch, shape still fixed.
	e.stepsPerEpoch = n / c.BatchSize
	e.sched = schedule{opt: c.Optimizer, totalSteps: c.Epochs * e.stepsPerEpoch,
		warmupSteps: int(math.Round(c.Optimizer.WarmupEpochs * float64(e.stepsPerEpoch))), varLR: e.lrScale}
	e.classWeights = make([]float32, e.numClasses)
	counts := make([]int, e.numClasses)
	for i := range n {
		counts[e.train.Label(i)]++
	}
	for k := range e.classWeights {
		e.classWeights[k] = 1
		if c.BalanceClasses && counts[k] > 0 {
			// "balanced" weights as scikit-learn: n / (classes * count).
			e.classWeights[k] = float32(float64(n) / float64(e.numClasses*counts[k]))
		}
	}
	return e.setupDevices()
}

// newContext starts e.ctx with the run's model hyperparameters set (see Settings.ZeroInitResidual).
func (e *engine) newContext() {
	e.ctx = context.New()
	if e.config.ZeroInitResidual {
		e.ctx.SetParam(models.ParamZeroInitResidual, true)
	}
}

// lossGraph returns the per-example loss [batch] for logits and int32 labels.
func (e *engine) lossGraph(logits, labels *Node) *Node {
	c := e.numClasses
	target := OneHot(labels, c, logits.DType())
	if eps := e.config.LabelSmoothing; eps > 0 {
		target = AddScalar(MulScalar(target, 1-eps), eps/float64(c))
	}
	if e.config.MultiLabel {
		// Binary cross-entropy with logits, averaged over classes: max(z,0) - z*y + log(1+exp(-|z|)).
		z := logits
		bce := Add(Sub(Max(z, ZerosLike(z)), Mul(z, target)), Log1p(Exp(Neg(Abs(z)))))
		return ReduceMean(bce, -1)
	}
	return Neg(ReduceSum(Mul(target, LogSoftmax(logits, -1)), -1))
}

// l2Graph is l2 * sum of squares of the model's weight matrices and kernels (rank >= 2).
func (e *engine) l2Graph(ctx *context.Context, g *Graph) *Node {
	var total *Node
	for v := range ctx.IterVariables() {
		if !v.Trainable || v.Shape().Rank() < 2 || !v.InUseByGraph(g) {
			continue
		}
		sq := ReduceAllSum(Square(v.ValueGraph(g)))
		if total == nil {
			total = sq
		} else {
			total = Add(total, sq)
		}
	}
	if total == nil {
		return nil
	}
	return MulScalar(ConvertDType(total, dtypes.Float32), e.config.L2)
}

func (e *engine) buildExecs() error {
	if err := e.buildTrainExec(); err != nil {
		return err
	}
	var err error
	e.evalExec, err = newEvalExec(e.backend, e.ctx.Reuse(), e.model)
	return err
}

// buildTrainExec compiles the training step: (x, labels, weights, learning rate [batch]) -> (loss, correct,
// learning rate); with mixup (Settings.Mixup) the step takes a fifth input, each example's blend lambda
// [batch] (see mixGraph); with cutmix (Settings.CutMix) a fifth, lambda, and a sixth, the pasted box
// [batch, h, w] (see cutMixGraph).
func (e *engine) buildTrainExec() error {
	step := func(ctx *context.Context, x, labels, weights, lrs, lam, box *Node) []*Node {
		g := x.Graph()
		ctx.SetTraining(g, true)
		if lam != nil {
			if !x.DType().IsFloat() {
				x = ConvertDType(x, dtypes.Float32)
			}
			if box != nil {
				x = cutMixGraph(x, box)
			} else {
				x = mixGraph(x, lam)
			}
		}
		logits := ConvertDType(e.model(ctx.In(modelScope), x), dtypes.Float32)
		var loss *Node
		if lam == nil {
			perExample := e.lossGraph(logits, labels)
			wsum := Max(ReduceAllSum(weights), Scalar(g, dtypes.Float32, 1e-12))
			loss = Div(ReduceAllSum(Mul(perExample, weights)), wsum)
		} else {
			// Mixed targets: lambda of the example's own loss, 1-lambda of its mirror's, each with its weight.
			wa := Mul(lam, weights)
			wb := Mul(OneMinus(lam), Reverse(weights, 0))
			terms := Add(Mul(e.lossGraph(logits, labels), wa), Mul(e.lossGraph(logits, Reverse(labels, 0)), wb))
			loss = Div(ReduceAllSum(terms), Max(ReduceAllSum(Add(wa, wb)), Scalar(g, dtypes.Float32, 1e-12)))
		}
		total := loss
		if e.config.L2 > 0 {
			if l2 := e.l2Graph(ctx.In(modelScope), g); l2 != nil {
				total = Add(total, l2)
			}
		}
		// lrs [batch] holds the step's learning rate in every entry: a batch-shaped input, as the data-parallel
		// step needs (see dataParallel.configure).
		lr := applyOptimizer(ctx, total, ReduceAllMax(lrs), e.sched, e.config.ClipNorm)
		pred := ConvertDType(ArgMax(logits, -1), dtypes.Int32)
		correct := ReduceAllSum(ConvertDType(Equal(pred, labels), dtypes.Float32))
		return []*Node{loss, correct, lr}
	}
	var err error
	inputs := 4
	switch {
	case e.config.CutMix > 0:
		inputs = 6
		e.trainExec, err = context.NewExec(e.backend, e.ctx, func(ctx *context.Context, x, labels, weights, lrs, lam, box *Node) []*Node {
			return step(ctx, x, labels, weights, lrs, lam, box)
		})
	case e.config.Mixup > 0:
		inputs = 5
		e.trainExec, err = context.NewExec(e.backend, e.ctx, func(ctx *context.Context, x, labels, weights, lrs, lam *Node) []*Node {
			return step(ctx, x, labels, weights, lrs, lam, nil)
		})
	default:
		e.trainExec, err = context.NewExec(e.backend, e.ctx, func(ctx *context.Context, x, labels, weights, lrs *Node) []*Node {
			return step(ctx, x, labels, weights, lrs, nil, nil)
		})
	}
	if err != nil {
		return fmt.Errorf("creating the training step: %w", err)
	}
	if e.parallel != nil {
		e.parallel.configure(e.trainExec, inputs)
	}
	return nil
}

// newEvalExec compiles inference: raw inputs -> float32 logits, training mode off.
func newEvalExec(b backends.Backend, ctx *context.Context, model modelFn) (*context.Exec, error) {
	exec, err := context.NewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), false)
		return ConvertDType(model(ctx.In(modelScope), x), dtypes.Float32)
	})
	if err != nil {
		return nil, fmt.Errorf("creating the inference step: %w", err)
	}
	return exec, nil
}

// runExec calls exec, turning GoMLX panics into errors.
func runExec(exec *context.Exec, args ...any) (out []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return exec.Exec(args...)
}

func scalarOf(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	}
	return math.NaN()
}

// evaluate returns the mean loss and accuracy over a whole split, in fixed-size padded batches, and the
// arg-max prediction of each example.
func (e *engine) evaluate(src dataSource) (loss, acc float64, predicted []int, err error) {
	n, batch := src.Len(), e.config.BatchSize
	predicted = make([]int, n)
	idx := make([]int, batch)
	var sumLoss float64
	var correct int
	for start := 0; start < n; start += batch {
		valid := min(batch, n-start)
		for k := range idx {
			idx[k] = start + min(k, valid-1) // Pad by repeating the last example; padded rows are ignored.
		}
		x, err := src.Batch(idx, 0, false)
		if err != nil {
			return 0, 0, nil, err
		}
		out, err := runExec(e.evalExec, x)
		x.FinalizeAll()
		if err != nil {
			return 0, 0, nil, fmt.Errorf("evaluating batch at %d: %w", start, err)
		}
		logits := tensors.MustCopyFlatData[float32](out[0])
		out[0].FinalizeAll()
		for k := range valid {
			row := logits[k*e.numClasses : (k+1)*e.numClasses]
			label := src.Label(idx[k])
			sumLoss += e.exampleLoss(row, label)
			predicted[start+k] = vecmath.Argmax(row)
			if predicted[start+k] == label {
				correct++
			}
		}
	}
	return sumLoss / float64(n), float64(correct) / float64(n), predicted, nil
}

// exampleLoss is lossGraph for one row, in float64, without label smoothing (the honest validation loss).
func (e *engine) exampleLoss(logits []float32, label int) float64 {
	if e.config.MultiLabel {
		var s float64
		for c, z := range logits {
			y := 0.0
			if c == label {
				y = 1
			}
			zz := float64(z)
			s += math.Max(zz, 0) - zz*y + math.Log1p(math.Exp(-math.Abs(zz)))
		}
		return s / float64(len(logits))
	}
	return -logSoftmax(logits)[label]
}

func logSoftmax(row []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - m)
	}
	ls := math.Log(s) + m
	out := make([]float64, len(row))
	for i, v := range row {
		out[i] = float64(v) - ls
	}
	return out
}

// openCheckpoints attaches a checkpoint handler to ctx; when the directory has checkpoints, the latest one
// that loads is read into ctx (a truncated last one, left by a kill during saving, is removed).
func openCheckpoints(ctx *context.Context, dir string, keep int) (*checkpoints.Handler, error) {
	for attempt := 0; ; attempt++ {
		h, err := checkpoints.Build(ctx).Dir(dir).Keep(keep).Immediate().Done()
		if err == nil {
			markStateNotTrainable(ctx)
			return h, nil
		}
		if attempt > 0 {
			return nil, fmt.Errorf("loading checkpoint from %s: %w", dir, err)
		}
		// Remove the newest checkpoint (probably half-written) and retry with the previous one.
		matches, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
		if len(matches) == 0 {
			return nil, fmt.Errorf("opening checkpoints in %s: %w", dir, err)
		}
		newest := matches[len(matches)-1]
		base := newest[:len(newest)-len(".json")]
		_ = os.Remove(base + ".json")
		_ = os.Remove(base + ".bin")
	}
}

// markStateNotTrainable clears the Trainable flag that checkpoint loading sets on every variable, for
// everything outside the model scope (global step, random state, optimiser moments). Model layers set
// their own non-trainable variables (e.g. batch-norm averages) again when the graph is built.
func markStateNotTrainable(ctx *context.Context) {
	for v := range ctx.IterVariables() {
		if !isModelVar(v) || !v.DType().IsFloat() {
			v.SetTrainable(false)
		}
	}
}

func writeJSONAtomic(path string, v any) error { return atomicfile.WriteJSON(path, v) }

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}

// prepareDir writes or checks config.json; a directory holding a different run is refused.
func (e *engine) prepareDir() error {
	if err := os.MkdirAll(e.outDir, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	cfgPath := filepath.Join(e.outDir, ConfigFile)
	var old RunConfig
	err := readJSON(cfgPath, &old)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return writeJSONAtomic(cfgPath, e.config)
	case err != nil:
		return err
	}
	a, err := old.fingerprint()
	if err != nil {
		return fmt.Errorf("reading %s: %w", cfgPath, err)
	}
	b, err := e.config.fingerprint()
	if err != nil {
		return err
	}
	if a != b {
		return fmt.Errorf("output directory %s holds a different run (its config.json differs from this one); use a new directory to start over:\n  saved: %s\n  now:   %s", e.outDir, a, b)
	}
	if old.Backend != e.config.Backend {
		// Resuming on another backend works, but is not bit-exact: keep the original name, note the change.
		e.config.Backend = old.Backend
	}
	return nil
}

// fit trains and returns the result; on a directory with an interrupted run it resumes.
func (e *engine) fit() (*Result, error) {
	start := time.Now()
	if err := e.setup(); err != nil {
		return nil, err
	}
	e.newContext()
	var hist history
	var ckpt *checkpoints.Handler
	resumed := 0
	if e.outDir != "" {
		if err := e.prepareDir(); err != nil {
			return nil, err
		}
		var err error
		ckpt, err = openCheckpoints(e.ctx, filepath.Join(e.outDir, CheckpointDir), 2)
		if err != nil {
			return nil, err
		}
		if err := readJSON(filepath.Join(e.outDir, HistoryFile), &hist); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		has, _ := ckpt.HasCheckpoints()
		if has {
			step := optimizers.GetGlobalStep(e.ctx)
			if step%int64(e.stepsPerEpoch) != 0 {
				return nil, fmt.Errorf("checkpoint in %s is at step %d, not at an epoch boundary of %d steps: the data or batch size changed?", e.outDir, step, e.stepsPerEpoch)
			}
			resumed = int(step / int64(e.stepsPerEpoch))
			if resumed > len(hist.Epochs) {
				return nil, fmt.Errorf("checkpoint in %s is at epoch %d but %s has %d epochs", e.outDir, resumed, HistoryFile, len(hist.Epochs))
			}
			// history.json is written before the checkpoint: drop epochs whose checkpoint was not saved.
			if resumed < len(hist.Epochs) {
				hist.Epochs = hist.Epochs[:resumed]
				hist.Finished = false
			}
			e.ctx = e.ctx.Reuse()
		} else {
			hist = history{}
		}
	}
	if resumed == 0 {
		if err := e.ctx.SetRNGStateFromSeed(e.config.Seed); err != nil {
			return nil, fmt.Errorf("seeding the random state: %w", err)
		}
	}
	if e.prepare != nil {
		if err := e.prepare(e.ctx, resumed == 0); err != nil {
			return nil, err
		}
	}
	if err := e.buildExecs(); err != nil {
		return nil, err
	}
	e.globalStep = int64(resumed * e.stepsPerEpoch)
	result := &Result{ResumedFromEpoch: resumed, Backend: e.backendName, Dir: e.outDir, Devices: e.devices}

	// Early-stopping state, rebuilt from the history so that resumed runs decide the same.
	best := bestTracker{restore: e.config.restoresBest()}
	for _, st := range hist.Epochs {
		best.observe(st)
	}
	if hist.Finished {
		return e.finish(result, &hist, &best, start, ckpt, false)
	}
	var perm []int
	idx := make([]int, e.config.BatchSize)
	labels := make([]int32, e.config.BatchSize)
	weights := make([]float32, e.config.BatchSize)
	totalSteps := e.config.Epochs * e.stepsPerEpoch
	var saves checkpointPacer
	runStart := time.Now()
	stepsDoneHere := 0
	for epoch := resumed + 1; epoch <= e.config.Epochs; epoch++ {
		epochStart := time.Now()
		perm = permutation(e.train.Len(), e.config.Seed, epoch)
		var sumLoss float64
		var correct float64
		var lr float64
		for step := range e.stepsPerEpoch {
			copy(idx, perm[step*e.config.BatchSize:(step+1)*e.config.BatchSize])
			loss, corr, stepLR, err := e.trainStep(idx, epoch, labels, weights)
			if err != nil {
				return nil, fmt.Errorf("epoch %d step %d: %w", epoch, step+1, err)
			}
			lr = stepLR
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("training diverged at epoch %d step %d: loss is %v (lower the learning rate)", epoch, step+1, loss)
			}
			sumLoss += loss
			correct += corr
			stepsDoneHere++
			if e.progress != nil {
				elapsed := time.Since(epochStart).Seconds()
				seen := (step + 1) * e.config.BatchSize
				perStep := time.Since(runStart) / time.Duration(stepsDoneHere)
				globalStep := int64((epoch-1)*e.stepsPerEpoch + step + 1)
				e.progress.Step(StepInfo{Epoch: epoch, Epochs: e.config.Epochs, Step: step + 1, Steps: e.stepsPerEpoch,
					GlobalStep: globalStep, Loss: loss, Accuracy: correct / float64(seen), LearningRate: lr,
					ExamplesPerSecond: float64(seen) / elapsed, ETA: perStep * time.Duration(int64(totalSteps)-globalStep)})
			}
		}
		trainSeconds := time.Since(epochStart).Seconds()
		st := EpochStats{Epoch: epoch, TrainLoss: sumLoss / float64(e.stepsPerEpoch),
			TrainAccuracy: correct / float64(e.stepsPerEpoch*e.config.BatchSize), LearningRate: lr,
			ExamplesPerSecond: float64(e.stepsPerEpoch*e.config.BatchSize) / trainSeconds}
		if e.val != nil && e.val.Len() > 0 {
			vl, va, pred, err := e.evaluate(e.val)
			if err != nil {
				return nil, fmt.Errorf("validation after epoch %d: %w", epoch, err)
			}
			st.ValLoss, st.ValAccuracy, st.HasVal = vl, va, true
			if err := e.checkCollapse(&st, pred); err != nil {
				return nil, fmt.Errorf("validation after epoch %d: %w", epoch, err)
			}
		}
		st.Seconds = time.Since(epochStart).Seconds()
		hist.Epochs = append(hist.Epochs, st)
		improved := best.observe(st)
		if improved && e.config.restoresBest() && st.HasVal {
			if err := best.snapshot(e.ctx, e.outDir); err != nil {
				return nil, err
			}
		}
		stop := e.config.Patience > 0 && best.sinceBest >= e.config.Patience
		if stop || epoch == e.config.Epochs {
			hist.Finished = true
			hist.StoppedEarly = stop && epoch < e.config.Epochs
		}
		if ckpt != nil {
			if err := writeJSONAtomic(filepath.Join(e.outDir, HistoryFile), &hist); err != nil {
				return nil, err
			}
			if saves.due(epoch == resumed+1 || hist.Finished) {
				if err := ckpt.Save(); err != nil {
					return nil, fmt.Errorf("saving the checkpoint of epoch %d: %w", epoch, err)
				}
				saves.saved()
			}
		}
		if e.progress != nil {
			e.progress.Epoch(st)
		}
		if stop {
			break
		}
	}
	return e.finish(result, &hist, &best, start, ckpt, true)
}

// checkCollapse records in st the validation predictions' share per class and whether they collapsed.
func (e *engine) checkCollapse(st *EpochStats, predicted []int) error {
	labels := make([]int, e.val.Len())
	for i := range labels {
		labels[i] = e.val.Label(i)
	}
	share, top, collapsed, err := Collapse(predicted, labels, e.numClasses)
	if err != nil {
		return err
	}
	st.ValPredictedShare = share
	if collapsed {
		st.CollapsedTo = e.config.Classes[top]
	}
	return nil
}

// trainStep runs one training step on the training examples idx of epoch (labels and weights are scratch
// buffers of the batch size) and returns the batch's loss, its number of correct predictions and the
// learning rate used.
func (e *engine) trainStep(idx []int, epoch int, labels []int32, weights []float32) (loss, correct, lr float64, err error) {
	for k, i := range idx {
		l := e.train.Label(i)
		labels[k] = int32(l)
		weights[k] = e.classWeights[l]
	}
	x, err := e.train.Batch(idx, epoch, true)
	if err != nil {
		return 0, 0, 0, err
	}
	e.globalStep++
	lrs := make([]float32, len(idx))
	for k := range lrs {
		lrs[k] = float32(e.sched.at(e.globalStep))
	}
	args := []*tensors.Tensor{x, tensors.FromValue(labels), tensors.FromValue(weights), tensors.FromValue(lrs)}
	if alpha := e.config.Mixup; alpha > 0 {
		lam := float32(mixupLambda(alpha, e.config.Seed, epoch, idx[0]))
		lams := make([]float32, len(idx))
		for k := range lams {
			lams[k] = lam
		}
		args = append(args, tensors.FromValue(lams))
	}
	if alpha := e.config.CutMix; alpha > 0 {
		d := x.Shape().Dimensions
		if len(d) != 4 {
			for _, t := range args {
				t.FinalizeAll()
			}
			return 0, 0, 0, fmt.Errorf("cutmix needs images [batch, height, width, channels], the training inputs are %v: use mixup", d)
		}
		y0, y1, x0, x1, lam := cutMixBox(alpha, e.config.Seed, epoch, idx[0], d[1], d[2])
		lams := make([]float32, len(idx))
		box := make([]float32, len(idx)*d[1]*d[2])
		for k := range lams {
			lams[k] = float32(lam)
			for y := y0; y < y1; y++ {
				row := box[(k*d[1]+y)*d[2]:]
				for xx := x0; xx < x1; xx++ {
					row[xx] = 1
				}
			}
		}
		args = append(args, tensors.FromValue(lams), tensors.FromFlatDataAndDimensions(box, len(idx), d[1], d[2]))
	}
	out, err := e.runTrainExec(args...)
	for _, t := range args {
		t.FinalizeAll()
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("training step: %w", err)
	}
	loss, correct, lr = scalarOf(out[0]), scalarOf(out[1]), scalarOf(out[2])
	for _, t := range out {
		t.FinalizeAll()
	}
	return loss, correct, lr, nil
}

// finish restores the best weights if asked, records the final history and builds the Predictor.
func (e *engine) finish(result *Result, hist *history, best *bestTracker, start time.Time, ckpt *checkpoints.Handler, trained bool) (*Result, error) {
	result.History = hist.Epochs
	result.StoppedEarly = hist.StoppedEarly
	result.BestEpoch = len(hist.Epochs)
	if e.config.restoresBest() && best.epoch > 0 && best.epoch != len(hist.Epochs) {
		if err := best.restoreInto(e.ctx, e.outDir); err != nil {
			return nil, err
		}
		result.BestEpoch = best.epoch
		if ckpt != nil && trained {
			// The newest checkpoint then holds the restored weights (global step unchanged).
			if err := ckpt.Save(); err != nil {
				return nil, fmt.Errorf("saving the restored best epoch %d: %w", best.epoch, err)
			}
		}
	}
	hist.BestEpoch = result.BestEpoch
	if result.BestEpoch > 0 {
		result.FinalTrainLoss = hist.Epochs[result.BestEpoch-1].TrainLoss
	}
	if e.outDir != "" {
		if err := writeJSONAtomic(filepath.Join(e.outDir, HistoryFile), hist); err != nil {
			return nil, err
		}
	}
	result.Classes = e.config.Classes
	result.Predictor = &Predictor{config: e.config, ctx: e.ctx, exec: e.evalExec, batchSize: e.config.BatchSize,
		numClasses: e.numClasses, multiLabel: e.config.MultiLabel}
	if err := e.recordPredictions(result.Predictor); err != nil {
		return nil, err
	}
	result.Elapsed = time.Since(start)
	return result, nil
}

// checkpointSpacing is how many times a checkpoint's save time must pass after it before the next one is
// saved: saving then takes at most a tenth of the run. A large network's checkpoint is slow to write
// (ResNet50's weights and AdamW state: 220 MB, 3-8 s on 2 cores, where an epoch at 32 px takes ~10 s), a
// small one's is not (every epoch is saved).
const checkpointSpacing = 9

// checkpointPacer decides at which epoch ends a checkpoint is saved: the first epoch of a process, the
// last one, and otherwise once checkpointSpacing times the last save's duration has passed since it. An
// interrupted run resumes from the latest saved epoch (history.json is cut back to it).
type checkpointPacer struct {
	started    time.Time     // when the save in progress started
	lastEnd    time.Time     // when the last save ended
	lastLength time.Duration // how long it took
}

// due reports whether this epoch end saves a checkpoint (always when must), and starts timing the save.
func (p *checkpointPacer) due(must bool) bool {
	if !must && !p.lastEnd.IsZero() && time.Since(p.lastEnd) < checkpointSpacing*p.lastLength {
		return false
	}
	p.started = time.Now()
	return true
}

// saved records the end of the save that due started.
func (p *checkpointPacer) saved() {
	p.lastEnd = time.Now()
	p.lastLength = p.lastEnd.Sub(p.started)
}

package train

import (
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// OptimizerOptions configure the optimiser and its learning-rate schedule; they are saved in config.json.
type OptimizerOptions struct {
	// Name is "adamw" (Adam with decoupled weight decay), "adam" (same, decay off) or "sgd" (momentum SGD).
	Name string `json:"name"`
	// LR is the peak learning rate.
	LR float64 `json:"lr"`
	// Momentum for SGD (0.9 typical); Nesterov selects Nesterov momentum.
	Momentum float64 `json:"momentum"`
	Nesterov bool    `json:"nesterov"`
	// Beta1, Beta2, Epsilon for Adam/AdamW.
	Beta1   float64 `json:"beta1"`
	Beta2   float64 `json:"beta2"`
	Epsilon float64 `json:"epsilon"`
	// WeightDecay: decoupled for AdamW (w -= lr*wd*w), coupled L2 gradient for SGD (g += wd*w). Applied to
	// weight matrices and kernels only (rank >= 2), never to biases or normalisation scales.
	WeightDecay float64 `json:"weight_decay"`
	// Schedule is "cosine" (decay to MinLRFactor*LR at the end), "constant" or "onecycle" (fastai's
	// fit_one_cycle: a cosine rise from LR/25 to LR over the warm-up, OneCycleWarmup of the steps when
	// WarmupEpochs is 0, then a cosine decay to MinLRFactor*LR).
	Schedule string `json:"schedule"`
	// WarmupEpochs of linear warm-up from ~0 to LR (fractional values allowed).
	WarmupEpochs float64 `json:"warmup_epochs"`
	// MinLRFactor is the final learning rate of the cosine schedule as a fraction of LR.
	MinLRFactor float64 `json:"min_lr_factor"`
}

// DefaultOptimizer returns AdamW, LR 1e-3, weight decay 1e-4, cosine schedule without warm-up.
func DefaultOptimizer() OptimizerOptions {
	return OptimizerOptions{Name: "adamw", LR: 1e-3, Momentum: 0.9, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8,
		WeightDecay: 1e-4, Schedule: "cosine"}
}

func (o OptimizerOptions) validate() error {
	switch o.Name {
	case "adamw", "adam", "sgd":
	default:
		return fmt.Errorf("optimizer %q unknown: use \"adamw\", \"adam\" or \"sgd\"", o.Name)
	}
	switch o.Schedule {
	case "cosine", "constant", "onecycle":
	default:
		return fmt.Errorf("learning-rate schedule %q unknown: use \"cosine\", \"constant\" or \"onecycle\"", o.Schedule)
	}
	if !(o.LR > 0) || math.IsInf(o.LR, 0) {
		return fmt.Errorf("learning rate %v must be positive", o.LR)
	}
	if o.WeightDecay < 0 || o.Momentum < 0 || o.Momentum >= 1 || o.WarmupEpochs < 0 || o.MinLRFactor < 0 || o.MinLRFactor > 1 {
		return fmt.Errorf("optimizer options out of range (need weight decay >= 0, 0 <= momentum < 1, warm-up >= 0, 0 <= min LR factor <= 1): %+v", o)
	}
	if o.Name != "sgd" && (o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 || o.Epsilon <= 0) {
		return fmt.Errorf("adam options out of range (need 0 <= beta < 1, epsilon > 0): %+v", o)
	}
	return nil
}

// OneCycleWarmup is the share of the steps the "onecycle" schedule rises over when WarmupEpochs is 0
// (fastai's pct_start), and OneCycleDiv the factor its rise starts below LR (fastai's div).
const (
	OneCycleWarmup = 0.25
	OneCycleDiv    = 25.0
)

// oneCycleWarmupSteps is the length of the "onecycle" rise: the warm-up when one is set, else
// OneCycleWarmup of the steps (at least 1).
func oneCycleWarmupSteps(totalSteps, warmupSteps int) int {
	if warmupSteps > 0 {
		return min(warmupSteps, totalSteps)
	}
	return max(1, int(math.Round(OneCycleWarmup*float64(totalSteps))))
}

// schedule gives the learning rate of 1-based step s of totalSteps, with warmupSteps of linear warm-up.
type schedule struct {
	opt                     OptimizerOptions
	totalSteps, warmupSteps int
	// sweep, when its steps are > 0, replaces the schedule by the learning-rate range test's exponential
	// sweep (see LRFind): opt's LR, warm-up and cosine are then ignored.
	sweep lrSweep
	// varLR, when set, scales the learning rate of each variable (1: as scheduled), e.g. a pretrained
	// backbone's lower rate when fine-tuning (see FineTuneBuilder.BackboneLRFactor).
	varLR func(v *context.Variable) float64
}

// lrSweep is an exponential learning-rate sweep: step s (1-based) uses start * (end/start)^((s-1)/steps).
type lrSweep struct {
	start, end float64
	steps      int
}

// at returns the learning rate of the 1-based global step (fed to each training step, and reported).
func (s schedule) at(step int64) float64 {
	st := float64(step)
	if s.sweep.steps > 0 {
		return s.sweep.start * math.Pow(s.sweep.end/s.sweep.start, (st-1)/float64(s.sweep.steps))
	}
	lr := s.opt.LR
	if s.opt.Schedule == "onecycle" {
		return s.oneCycleAt(st)
	}
	if s.warmupSteps > 0 && st <= float64(s.warmupSteps) {
		return lr * st / float64(s.warmupSteps)
	}
	if s.opt.Schedule != "cosine" || s.totalSteps <= s.warmupSteps {
		return lr
	}
	progress := math.Min(1, (st-float64(s.warmupSteps))/float64(s.totalSteps-s.warmupSteps))
	minLR := s.opt.MinLRFactor * lr
	return minLR + 0.5*(lr-minLR)*(1+math.Cos(math.Pi*progress))
}

// oneCycleAt is the "onecycle" learning rate of (1-based, float) step st: a cosine from LR/OneCycleDiv up to
// LR over the rise, then a cosine from LR down to MinLRFactor*LR at the last step.
func (s schedule) oneCycleAt(st float64) float64 {
	lr, minLR := s.opt.LR, s.opt.MinLRFactor*s.opt.LR
	rise := float64(oneCycleWarmupSteps(s.totalSteps, s.warmupSteps))
	if st <= rise {
		p := st / rise
		return cosAnneal(lr/OneCycleDiv, lr, p)
	}
	fall := math.Max(1, float64(s.totalSteps)-rise)
	return cosAnneal(lr, minLR, math.Min(1, (st-rise)/fall))
}

// cosAnneal goes from a (p = 0) to b (p = 1) along half a cosine.
func cosAnneal(a, b, p float64) float64 { return b + 0.5*(a-b)*(1+math.Cos(math.Pi*p)) }

// optimizerScope holds the optimiser's state variables (moments), mirroring the model's scopes.
const optimizerScope = "/optimizer_state"

// applyOptimizer builds one optimisation step for loss: gradients of every trainable variable used by the
// graph (clipped to a global L2 norm of clipNorm when it is > 0), global step increment, and the variable
// updates at learning rate lr (a float32 scalar input of the step: the schedule is computed on the Go side,
// schedule.at, so that one compiled step serves every schedule, epoch count and learning rate, and the
// compile cache finds it again). It returns lr.
func applyOptimizer(ctx *context.Context, loss, lr *Node, sched schedule, clipNorm float64) *Node {
	g := loss.Graph()
	opt := sched.opt
	grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
	if clipNorm > 0 {
		grads = clipByGlobalNorm(grads, clipNorm)
	}
	step := optimizers.IncrementGlobalStepGraph(ctx, g, dtypes.Float32)
	ii := 0
	for v := range ctx.IterVariables() {
		if !v.Trainable || !v.InUseByGraph(g) {
			continue
		}
		if ii >= len(grads) {
			panic(fmt.Sprintf("train: more trainable variables than gradients (%d) at %s", len(grads), v.ScopeAndName()))
		}
		grad := grads[ii]
		ii++
		dtype := v.DType()
		w := v.ValueGraph(g)
		lrV := ConvertDType(lr, dtype)
		if sched.varLR != nil {
			if f := sched.varLR(v); f != 1 {
				lrV = MulScalar(lrV, f)
			}
		}
		decay := opt.WeightDecay > 0 && v.Shape().Rank() >= 2
		stateCtx := ctx.InAbsPath(path.Join(optimizerScope, strings.TrimPrefix(v.Scope(), "/"))).Checked(false)
		zeros := func(name string) *context.Variable {
			return stateCtx.WithInitializer(initializers.Zero).
				VariableWithShape(v.Name()+name, shapes.Make(dtype, v.Shape().Dimensions...)).SetTrainable(false)
		}
		switch opt.Name {
		case "sgd":
			if decay {
				grad = Add(grad, MulScalar(w, opt.WeightDecay))
			}
			update := grad
			if opt.Momentum > 0 {
				mv := zeros("#momentum")
				m := Add(MulScalar(mv.ValueGraph(g), opt.Momentum), grad)
				mv.SetValueGraph(m)
				update = m
				if opt.Nesterov {
					update = Add(grad, MulScalar(m, opt.Momentum))
				}
			}
			v.SetValueGraph(Sub(w, Mul(lrV, update)))
		default: // "adam", "adamw"
			mv, vv := zeros("#m"), zeros("#v")
			m := Add(MulScalar(mv.ValueGraph(g), opt.Beta1), MulScalar(grad, 1-opt.Beta1))
			s := Add(MulScalar(vv.ValueGraph(g), opt.Beta2), MulScalar(Square(grad), 1-opt.Beta2))
			mv.SetValueGraph(m)
			vv.SetValueGraph(s)
			t := ConvertDType(step, dtype)
			bc1 := OneMinus(Pow(Scalar(g, dtype, opt.Beta1), t))
			bc2 := OneMinus(Pow(Scalar(g, dtype, opt.Beta2), t))
			update := Div(Div(m, bc1), AddScalar(Sqrt(Div(s, bc2)), opt.Epsilon))
			if decay && opt.Name == "adamw" {
				update = Add(update, MulScalar(w, opt.WeightDecay))
			}
			v.SetValueGraph(Sub(w, Mul(lrV, update)))
		}
	}
	if ii != len(grads) {
		panic(fmt.Sprintf("train: %d gradients but %d trainable variables in use", len(grads), ii))
	}
	return lr
}

// clipByGlobalNorm scales grads by min(1, maxNorm / ||grads||), ||.|| the L2 norm of all of them together.
func clipByGlobalNorm(grads []*Node, maxNorm float64) []*Node {
	if len(grads) == 0 {
		return grads
	}
	var sumSq *Node
	for _, gr := range grads {
		sq := ReduceAllSum(Square(ConvertDType(gr, dtypes.Float32)))
		if sumSq == nil {
			sumSq = sq
		} else {
			sumSq = Add(sumSq, sq)
		}
	}
	limit := Scalar(sumSq.Graph(), dtypes.Float32, maxNorm)
	scale := Div(limit, Max(Sqrt(sumSq), limit))
	out := make([]*Node, len(grads))
	for i, gr := range grads {
		out[i] = Mul(gr, ConvertDType(scale, gr.DType()))
	}
	return out
}

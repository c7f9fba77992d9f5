// Command recipes trains one deep model from scratch on the tutorial's data and split, and prints one
// line: the settings, wall seconds, the load average, train and validation accuracy and the validation
// recall of each class. It is the driver of the from-scratch recipe study (README, "Training from
// scratch"):
//
//	go run ./bench/recipes -family resnet50 -size 32 -epochs 4
//	go run ./bench/recipes -family efficientnet_b0 -backend xla -split-seed 7
//
// -folds K trains the recipe K times instead, once per fold of a stratified K-fold cross-validation over
// all labelled photos (mlkit.KFold: each photo in validation exactly once), prints a line per fold and a
// CV line: the mean and spread of the folds' accuracies, and the pooled accuracy and per-class recall of
// every photo's one out-of-fold prediction:
//
//	go run ./bench/recipes -family resnet50 -folds 5
//
// The app lives in -app (default $TMPDIR/mlkit-recipes): the photos are uploaded and labelled from their
// folder names once, the decoded pixels are cached there, and each run replaces its model. The split is
// the tutorial's: 70/15/15 of the labelled photos with seed 42 (-split-seed picks another split).
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/visionnb/visionnb/mlkit"
	"github.com/visionnb/visionnb/mlkit/dataset"
	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/train"
)

func main() {
	var (
		appDir    = flag.String("app", filepath.Join(os.TempDir(), "mlkit-recipes"), "the experiment app's folder")
		family    = flag.String("family", "resnet50", "model family")
		size      = flag.Int("size", 32, "training resolution (px)")
		epochs    = flag.Int("epochs", 10, "epochs")
		batch     = flag.Int("batch", 16, "batch size")
		lr        = flag.Float64("lr", 0, "peak learning rate (0: the defaults')")
		opt       = flag.String("opt", "", "optimizer: adamw, adam, sgd (empty: the defaults')")
		sched     = flag.String("sched", "", "schedule: cosine, constant, onecycle (empty: the defaults')")
		warmup    = flag.Float64("warmup", -1, "warm-up epochs (-1: the defaults')")
		wd        = flag.Float64("wd", -1, "weight decay (-1: the defaults')")
		ls        = flag.Float64("ls", -1, "label smoothing (-1: the defaults')")
		zir       = flag.Bool("zir", false, "zero-init residual")
		plain     = flag.Bool("plain", false, "start from train.DeepDefaults, not the family's recipe (train.DeepRecipe)")
		backend   = flag.String("backend", "xla", "backend")
		seed      = flag.Int64("seed", 42, "training seed")
		splitSeed = flag.Int64("split-seed", 42, "split seed (42: the tutorial's)")
		tag       = flag.String("tag", "", "a note printed with the result")
		scaleMin  = flag.Float64("scale-min", 0, "random-resized-crop minimum area (0: the family's recipe's)")
		mixup     = flag.Float64("mixup", -1, "mixup alpha (0: off; -1: the defaults')")
		cutmix    = flag.Float64("cutmix", -1, "cutmix alpha (0: off; -1: the defaults')")
		fineTune  = flag.Bool("finetune", false, "fine-tune -family from its pretrained weights (mobilenet_v2_035) instead of training it from scratch")
		frozen    = flag.Int("frozen-epochs", 0, "with -finetune: epochs of the head alone (0: the defaults')")
		lrFactor  = flag.Float64("lr-factor", 0, "with -finetune: backbone learning-rate factor (0: the defaults')")
		groups    = flag.Int("groups", 0, "with -finetune: backbone learning-rate groups (0: the defaults')")
		folds     = flag.Int("folds", 0, "K >= 2: K-fold cross-validation over all labelled photos (split seed -split-seed) instead of the tutorial's split")
	)
	flag.Parse()
	if *folds == 1 || *folds < 0 {
		fmt.Fprintf(os.Stderr, "recipes: -folds %d: want 0 (the tutorial's split) or at least 2\n", *folds)
		os.Exit(2)
	}
	r := recipe{*family, *size, *epochs, *batch, *lr, *opt, *sched, *warmup, *wd, *ls, *mixup, *zir, *plain, *backend, *seed, *splitSeed, *tag, *scaleMin, *cutmix,
		fineTuneRecipe{*fineTune, *frozen, *lrFactor, *groups}}
	if err := run(*appDir, r, *folds); err != nil {
		fmt.Fprintln(os.Stderr, "recipes:", err)
		os.Exit(1)
	}
}

// recipe is one run's settings, from the flags.
type recipe struct {
	family                string
	size, epochs, batch   int
	lr                    float64
	opt, sched            string
	warmup, wd, ls, mixup float64
	zir, plain            bool
	backend               string
	seed, splitSeed       int64
	tag                   string
	scaleMin, cutmix      float64
	ft                    fineTuneRecipe
}

// fineTuneRecipe is a fine-tuning run's own settings (-finetune).
type fineTuneRecipe struct {
	on       bool
	frozen   int
	lrFactor float64
	groups   int
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func run(appDir string, r recipe, folds int) error {
	app, err := mlkit.Create(appDir)
	if err != nil {
		return err
	}
	defer app.Close()
	inputs, err := app.Inputs()
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		if _, err := app.UploadTutorialData(true); err != nil {
			return err
		}
	}
	if folds == 0 {
		ds := fmt.Sprintf("animals-s%d", r.splitSeed)
		if _, err := app.Split(ds, mlkit.Fractions(0.7, 0.15, 0.15).WithSeed(r.splitSeed)); err != nil {
			return err
		}
		_, err := runOne(app, r, ds, fmt.Sprintf("split %d", r.splitSeed))
		return err
	}
	var pooled *eval.Report
	var accs []float64
	start := time.Now()
	for i := range folds {
		ds := fmt.Sprintf("animals-cv%d-%d-s%d", folds, i, r.splitSeed)
		if _, err := app.Split(ds, mlkit.KFold(folds, i).WithSeed(r.splitSeed)); err != nil {
			return err
		}
		rep, err := runOne(app, r, ds, fmt.Sprintf("fold %d/%d seed %d", i+1, folds, r.splitSeed))
		if err != nil {
			return err
		}
		accs = append(accs, rep.Accuracy)
		if pooled == nil {
			pooled = &eval.Report{Classes: rep.Classes, Confusion: make([][]int, len(rep.Classes))}
			for c := range pooled.Confusion {
				pooled.Confusion[c] = make([]int, len(rep.Classes))
			}
		}
		for a := range rep.Confusion {
			for b, n := range rep.Confusion[a] {
				pooled.Confusion[a][b] += n
			}
		}
	}
	mean, sd := meanSD(accs)
	n, tp := 0, 0
	for a := range pooled.Confusion {
		for b, v := range pooled.Confusion[a] {
			n += v
			if a == b {
				tp += v
			}
		}
	}
	recalls, zero := recallLine(pooled)
	fmt.Printf("CV | %s | %s %dpx e%d b%d | %d folds, split seed %d, training seed %d | %.0fs | fold val acc %.3f ± %.3f (%s) | pooled over %d photos %.3f | zero-recall %d | %s | %s\n",
		r.tag, r.family, r.size, r.epochs, r.batch, folds, r.splitSeed, r.seed, time.Since(start).Seconds(), mean, sd,
		joinFloats(accs), n, float64(tp)/float64(max(n, 1)), zero, recalls, r.backend)
	return nil
}

// meanSD returns the mean and the sample standard deviation of xs.
func meanSD(xs []float64) (float64, float64) {
	var m, v float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	if len(xs) > 1 {
		v /= float64(len(xs) - 1)
	}
	return m, math.Sqrt(v)
}

func joinFloats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.3f", x)
	}
	return strings.Join(parts, " ")
}

// recallLine formats the recall of every class of rep and counts the classes never predicted right.
func recallLine(rep *eval.Report) (string, int) {
	var recalls []string
	zero := 0
	for i, c := range rep.Classes {
		n, tp := 0, rep.Confusion[i][i]
		for _, v := range rep.Confusion[i] {
			n += v
		}
		if tp == 0 {
			zero++
		}
		recalls = append(recalls, fmt.Sprintf("%s %.2f", c, float64(tp)/float64(max(1, n))))
	}
	return strings.Join(recalls, ", "), zero
}

// runOne trains r on dataset ds, prints its RESULT line (where says which split) and returns its
// validation report.
func runOne(app *mlkit.App, r recipe, ds, where string) (*eval.Report, error) {
	name := fmt.Sprintf("%s-%d", r.family, os.Getpid())
	load0 := loadavg()
	start := time.Now()
	b := app.Train(name).OnDataset(ds)
	if r.ft.on {
		b = b.FineTune(r.family)
		if r.ft.frozen > 0 {
			b = b.FrozenEpochs(r.ft.frozen)
		}
		if r.ft.lrFactor > 0 {
			b = b.BackboneLRFactor(r.ft.lrFactor)
		}
		if r.ft.groups > 0 {
			b = b.BackboneGroups(r.ft.groups)
		}
	} else {
		b = b.Deep(r.family)
	}
	b = b.Size(r.size).Epochs(r.epochs).BatchSize(r.batch).Seed(r.seed).Backend(mlkit.Backend(r.backend)).Replace()
	b = b.Options(func(o train.Options) train.Options {
		if r.plain {
			o = train.DeepDefaults().Epochs(r.epochs).BatchSize(r.batch).Seed(r.seed)
		}
		if r.lr > 0 {
			o = o.LR(r.lr)
		}
		if r.opt != "" {
			o = o.Optimizer(r.opt)
		}
		if r.sched != "" {
			o = o.Schedule(r.sched)
		}
		if r.warmup >= 0 {
			o = o.WarmupEpochs(r.warmup)
		}
		if r.wd >= 0 {
			o = o.WeightDecay(r.wd)
		}
		if r.ls >= 0 {
			o = o.LabelSmoothing(r.ls)
		}
		if r.mixup >= 0 {
			o = o.Mixup(r.mixup)
		}
		if r.cutmix >= 0 {
			o = o.CutMix(r.cutmix)
		}
		if r.zir {
			o = o.ZeroInitResidual()
		}
		return o
	})
	if r.scaleMin > 0 {
		b = b.TuneDeep(func(d *train.DeepBuilder) *train.DeepBuilder {
			aug := d.Planned().Augment
			aug.ScaleMin = r.scaleMin
			return d.Augment(aug)
		})
	}
	m, err := b.Run()
	if err != nil {
		return nil, err
	}
	trainSecs := time.Since(start).Seconds()
	va, err := app.Evaluate(name, ds, mlkit.SplitValidation)
	if err != nil {
		return nil, err
	}
	ttaAcc, err := flipTTAAccuracy(app, m, ds)
	if err != nil {
		return nil, err
	}
	last := m.History[len(m.History)-1]
	recalls, zero := recallLine(va.Report)
	cfg := m.Result.Predictor.Config()
	o := cfg.Optimizer
	if r.ft.on {
		r.tag += fmt.Sprintf(" finetune frozen %d factor %g groups %d", cfg.Frozen.Epochs, cfg.BackboneLRFactor, max(cfg.BackboneGroups, 1))
	}
	fmt.Printf("RESULT | %s | %s %dpx e%d b%d crop>=%.2f | %s lr %g wd %g %s warm %g ls %.2f mixup %g cutmix %g zir %v | %s seed %d | train %.0fs (+eval %.0fs) load %s -> %s | train acc %.3f | val acc %.3f (flip TTA %.3f) | zero-recall %d | %s | %s\n",
		r.tag, r.family, r.size, r.epochs, r.batch, cfg.Augment.ScaleMin, o.Name, o.LR, o.WeightDecay, o.Schedule, o.WarmupEpochs, cfg.LabelSmoothing, cfg.Mixup, cfg.CutMix,
		cfg.ZeroInitResidual, where, r.seed, trainSecs,
		time.Since(start).Seconds()-trainSecs, load0, loadavg(), last.TrainAccuracy, va.Report.Accuracy, ttaAcc, zero,
		recalls, r.backend)
	return va.Report, app.DeleteModel(name)
}

// flipTTAAccuracy is the validation accuracy of m on ds with horizontal-flip test-time augmentation
// (train.Predictor.SetFlipTTA).
func flipTTAAccuracy(app *mlkit.App, m *mlkit.TrainedModel, ds string) (float64, error) {
	ctx := context.Background()
	v, err := dataset.OpenVersion(ctx, app.Store(), ds, 0)
	if err != nil {
		return 0, err
	}
	members, err := dataset.Members(ctx, app.Store(), v)
	if err != nil {
		return 0, err
	}
	class := map[string]int{}
	for i, c := range m.Classes {
		class[c] = i
	}
	var paths []string
	var labels []int
	for _, mem := range members {
		if mem.Split == store.Validation {
			paths = append(paths, app.Store().BlobPath(mem.SHA256))
			labels = append(labels, class[mem.Concept])
		}
	}
	p := m.Result.Predictor
	p.SetFlipTTA(true)
	defer p.SetFlipTTA(false)
	probs, err := p.Predict(paths)
	if err != nil {
		return 0, err
	}
	right := 0
	for i, row := range probs {
		best := 0
		for c, v := range row {
			if v > row[best] {
				best = c
			}
		}
		if best == labels[i] {
			right++
		}
	}
	return float64(right) / float64(max(len(paths), 1)), nil
}

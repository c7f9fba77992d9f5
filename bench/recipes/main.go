// Command recipes trains one deep model from scratch on the tutorial's data and split, and prints one
// line: the settings, wall seconds, the load average, train and validation accuracy and the validation
// recall of each class. It is the driver of the from-scratch recipe study (README, "Training from
// scratch"):
//
//	go run ./bench/recipes -family resnet50 -size 32 -epochs 4
//	go run ./bench/recipes -family efficientnet_b0 -backend xla -split-seed 7
//
// The app lives in -app (default $TMPDIR/mlkit-recipes): the photos are uploaded and labelled from their
// folder names once, the decoded pixels are cached there, and each run replaces its model. The split is
// the tutorial's: 70/15/15 of the labelled photos with seed 42 (-split-seed picks another split).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/visionnb/visionnb/mlkit"
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
	)
	flag.Parse()
	if err := run(*appDir, *family, *size, *epochs, *batch, *lr, *opt, *sched, *warmup, *wd, *ls, *mixup, *zir, *plain, *backend, *seed, *splitSeed, *tag, *scaleMin); err != nil {
		fmt.Fprintln(os.Stderr, "recipes:", err)
		os.Exit(1)
	}
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func run(appDir, family string, size, epochs, batch int, lr float64, opt, sched string, warmup, wd, ls, mixup float64,
	zir, plain bool, backend string, seed, splitSeed int64, tag string, scaleMin float64) error {
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
	ds := fmt.Sprintf("animals-s%d", splitSeed)
	if _, err := app.Split(ds, mlkit.Fractions(0.7, 0.15, 0.15).WithSeed(splitSeed)); err != nil {
		return err
	}
	name := fmt.Sprintf("%s-%d", family, os.Getpid())
	load0 := loadavg()
	start := time.Now()
	b := app.Train(name).OnDataset(ds).Deep(family).Size(size).Epochs(epochs).BatchSize(batch).Seed(seed).
		Backend(mlkit.Backend(backend)).Replace()
	b = b.Options(func(o train.Options) train.Options {
		if plain {
			o = train.DeepDefaults().Epochs(epochs).BatchSize(batch).Seed(seed)
		}
		if lr > 0 {
			o = o.LR(lr)
		}
		if opt != "" {
			o = o.Optimizer(opt)
		}
		if sched != "" {
			o = o.Schedule(sched)
		}
		if warmup >= 0 {
			o = o.WarmupEpochs(warmup)
		}
		if wd >= 0 {
			o = o.WeightDecay(wd)
		}
		if ls >= 0 {
			o = o.LabelSmoothing(ls)
		}
		if mixup >= 0 {
			o = o.Mixup(mixup)
		}
		if zir {
			o = o.ZeroInitResidual()
		}
		return o
	})
	if scaleMin > 0 {
		b = b.TuneDeep(func(d *train.DeepBuilder) *train.DeepBuilder {
			aug := d.Planned().Augment
			aug.ScaleMin = scaleMin
			return d.Augment(aug)
		})
	}
	m, err := b.Run()
	if err != nil {
		return err
	}
	trainSecs := time.Since(start).Seconds()
	va, err := app.Evaluate(name, ds, mlkit.SplitValidation)
	if err != nil {
		return err
	}
	last := m.History[len(m.History)-1]
	var recalls []string
	zero := 0
	for i, c := range va.Report.Classes {
		n, tp := 0, va.Report.Confusion[i][i]
		for _, v := range va.Report.Confusion[i] {
			n += v
		}
		r := float64(tp) / float64(max(1, n))
		if tp == 0 {
			zero++
		}
		recalls = append(recalls, fmt.Sprintf("%s %.2f", c, r))
	}
	cfg := m.Result.Predictor.Config()
	o := cfg.Optimizer
	fmt.Printf("RESULT | %s | %s %dpx e%d b%d crop>=%.2f | %s lr %g wd %g %s warm %g ls %.2f mixup %g zir %v | split %d seed %d | train %.0fs (+eval %.0fs) load %s -> %s | train acc %.3f | val acc %.3f | zero-recall %d | %s | %s\n",
		tag, family, size, epochs, batch, cfg.Augment.ScaleMin, o.Name, o.LR, o.WeightDecay, o.Schedule, o.WarmupEpochs, cfg.LabelSmoothing, cfg.Mixup,
		cfg.ZeroInitResidual, splitSeed, seed, trainSecs,
		time.Since(start).Seconds()-trainSecs, load0, loadavg(), last.TrainAccuracy, va.Report.Accuracy, zero,
		strings.Join(recalls, ", "), backend)
	return app.DeleteModel(name)
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/visionnb/visionnb/mlkit"
	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/train"
	"github.com/visionnb/visionnb/mlkit/view"
)

// workflowFlags holds the flags of the training and evaluation commands.
type workflowFlags struct {
	model, embedder, family string
	split, metric, out      string
	size, epochs, batch     int
	lr, threshold           float64
	override                string
	leakAck                 string
	recompute, replace      bool
	backend                 string
	version                 int
	lrFind                  bool
	lrFindSteps             int
	devices                 int
	fineTune, weights       string
	frozenEpochs            int
	backboneLRFactor        float64
	backboneGroups          int
	flipTTA                 bool
}

func init() {
	commands = append(commands,
		command{name: "embed", args: "", help: "compute (or reuse) the embeddings of every input", run: runEmbed,
			flags: func(c *cli, fs *flag.FlagSet) {
				fs.StringVar(&c.wf.embedder, "embedder", mlkit.DefaultEmbedder, "embedder name")
			}},
		command{name: "train", args: "--model NAME (--head EMBEDDER | --deep FAMILY | --fine-tune FAMILY)", help: "train a model on a dataset's train split", run: runTrain,
			flags: func(c *cli, fs *flag.FlagSet) {
				fs.StringVar(&c.dataset, "dataset", "default", "dataset name")
				fs.StringVar(&c.wf.model, "model", "", "name to save the model under")
				fs.StringVar(&c.wf.embedder, "head", "", "train a classifier head on this embedder's vectors (transfer learning)")
				fs.StringVar(&c.wf.family, "deep", "", "train this family from scratch: resnet50, efficientnet_b0..b7, mobilenetv2")
				fs.StringVar(&c.wf.fineTune, "fine-tune", "", "fine-tune this family from pretrained weights (fastai's fine_tune): mobilenet_v2_035, or resnet*/efficientnet_* with --weights")
				fs.StringVar(&c.wf.weights, "weights", "", "with --fine-tune: pretrained weights, a TF.js folder (MobileNetV2) or a torchvision safetensors file (default: the shared MobileNetV2-0.35)")
				optIntVar(fs, &c.wf.frozenEpochs, "frozen-epochs", 1, mlkit.MaxEpochs, "with --fine-tune: epochs of the head alone on the frozen backbone's features (default 50)")
				optFloatVar(fs, &c.wf.backboneLRFactor, "backbone-lr-factor", 1, mlkit.MaxBackboneLRFactor, "with --fine-tune: the unfrozen backbone trains at --lr / this factor (default 10)")
				optIntVar(fs, &c.wf.backboneGroups, "backbone-groups", 1, train.MaxBackboneGroups, "with --fine-tune: spread the backbone's learning rates over this many layer groups, the earliest at --lr / --backbone-lr-factor (fastai: 2 groups, factor 100; default 1)")
				intVar(fs, &c.wf.size, "size", 64, mlkit.MinSize, mlkit.MaxSize, "input resolution of a deep model in pixels (--fine-tune: mlkit.DefaultFineTuneSize unless given)")
				optIntVar(fs, &c.wf.epochs, "epochs", 1, mlkit.MaxEpochs, "epochs (default: the trainer's)")
				optIntVar(fs, &c.wf.batch, "batch", 1, mlkit.MaxBatchSize, "batch size (default: the trainer's)")
				optFloatVar(fs, &c.wf.lr, "lr", mlkit.MinLR, mlkit.MaxLR, "peak learning rate (default: the trainer's)")
				intVar(fs, &c.seed, "seed", 42, 0, math.MaxInt64, "seed")
				fs.StringVar(&c.wf.backend, "backend", "", "backend for this run: xla:cpu, xla:cuda or mlkitgo (default: the best available)")
				fs.BoolVar(&c.wf.replace, "replace", false, "delete a model already saved under --model (with its evaluations) and train anew")
				fs.BoolVar(&c.wf.lrFind, "lr-find", false, "run the learning-rate range test (fastai's lr_find) instead of training: print the suggested --lr; saves nothing")
				optIntVar(fs, &c.wf.lrFindSteps, "lr-find-steps", 2, 10000, "mini-batches of the --lr-find sweep (default 100)")
				intVar(fs, &c.wf.devices, "devices", 1, 0, mlkit.MaxDevices, "train data-parallel on this many devices (0: all; needs XLA and a batch size that divides by it)")
			}},
		command{name: "models", args: "[ls | rm NAME...]", help: "list the app's models, or delete some (folder, record, evaluations)", run: runModels},
		command{name: "evaluate", args: "--model NAME [--split validation]", help: "evaluate a model on a split (stored in the app)", run: runEvaluate,
			flags: func(c *cli, fs *flag.FlagSet) {
				evalFlags(c, fs)
				fs.StringVar(&c.wf.override, "override", "", "with --split test: reason to evaluate outside the one-time rule (recorded, flagged in every report)")
				fs.StringVar(&c.wf.leakAck, "acknowledge-leakage", "", "with --split test: reason to evaluate although test images have near duplicates in train or validation (recorded, flagged)")
			}},
		command{name: "compare", args: "[MODEL...]", help: "compare models on a split (all trained models by default)", run: runCompare,
			flags: evalFlags},
		command{name: "select", args: "[MODEL...]", help: "pick the best model on validation by a metric and record it", run: runSelect,
			flags: func(c *cli, fs *flag.FlagSet) {
				evalFlags(c, fs)
				fs.StringVar(&c.wf.metric, "metric", "macro_roc_auc", "macro_roc_auc, accuracy, macro_f1, log_loss or ece")
			}},
		command{name: "test", args: "", help: "evaluate the selected model once on the test split (app.Test); shows who tested what, when", run: runTest,
			flags: func(c *cli, fs *flag.FlagSet) {
				fs.StringVar(&c.dataset, "dataset", "default", "dataset name")
				floatVar(fs, &c.wf.threshold, "threshold", 0.5, 0, 1, "probability threshold of the per-concept table")
				fs.BoolVar(&c.wf.recompute, "recompute", false, "evaluate again (a second look: needs --override)")
				intVar(fs, &c.wf.version, "version", 0, 0, maxVersion, "dataset version (0: the latest)")
				fs.StringVar(&c.wf.override, "override", "", "reason to evaluate outside the one-time rule (recorded, flagged in every report)")
				fs.StringVar(&c.wf.leakAck, "acknowledge-leakage", "", "reason to evaluate although test images have near duplicates in train or validation (recorded, flagged)")
			}},
		command{name: "predict", args: "--model NAME FOLDER", help: "predict every image of a folder; CSV to --out or stdout", run: runPredict,
			flags: func(c *cli, fs *flag.FlagSet) {
				fs.StringVar(&c.wf.model, "model", "", "model name in the app, or a model folder")
				fs.StringVar(&c.wf.out, "out", "", "CSV file (default stdout)")
				fs.BoolVar(&c.wf.flipTTA, "flip-tta", false, "deep models: average each image's probabilities with its mirror image's (twice the inference time)")
			}},
		command{name: "export", args: "(--dataset NAME | --model NAME) --out DIR", help: "export a dataset (ImageFolder + CSV) or a model (checkpoint + Go example)", run: runExport,
			flags: func(c *cli, fs *flag.FlagSet) {
				fs.StringVar(&c.dataset, "dataset", "", "dataset to export")
				fs.StringVar(&c.wf.model, "model", "", "model to export")
				fs.StringVar(&c.wf.out, "out", "", "output folder")
			}},
	)
}

func evalFlags(c *cli, fs *flag.FlagSet) {
	fs.StringVar(&c.dataset, "dataset", "default", "dataset name")
	fs.StringVar(&c.wf.model, "model", "", "model name")
	fs.StringVar(&c.wf.split, "split", "validation", "train, validation or test")
	floatVar(fs, &c.wf.threshold, "threshold", 0.5, 0, 1, "probability threshold of the per-concept table")
	fs.BoolVar(&c.wf.recompute, "recompute", false, "evaluate again even if a stored evaluation exists")
	intVar(fs, &c.wf.version, "version", 0, 0, maxVersion, "dataset version (0: the latest)")
}

func runEmbed(c *cli, _ *flag.FlagSet, args []string) error {
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	e, err := app.Embed(c.wf.embedder)
	if err != nil {
		return err
	}
	if len(e.IDs) == 0 {
		return fmt.Errorf("nothing embedded: app %s has no inputs (upload images first with `mlkit upload`)", app.Name)
	}
	out := map[string]any{"embedder": e.Model, "inputs": len(e.IDs), "computed": e.Computed, "dim": e.Index.Dim()}
	return c.emit(out, func(w io.Writer) {
		fmt.Fprintf(w, "%s: %d inputs embedded (%d computed now), %d-d\n", e.Model, len(e.IDs), e.Computed, e.Index.Dim())
	})
}

func runTrain(c *cli, fs *flag.FlagSet, args []string) error {
	if c.wf.model == "" {
		return usagef("--model NAME is required")
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	b := app.Train(c.wf.model).OnDataset(c.dataset).Seed(c.seed)
	switch {
	case c.wf.embedder != "" && c.wf.family == "":
		b = b.Head(c.wf.embedder)
	case c.wf.family != "" && c.wf.embedder == "" && c.wf.fineTune == "":
		b = b.Deep(c.wf.family).Size(c.wf.size)
	case c.wf.fineTune != "" && c.wf.embedder == "" && c.wf.family == "":
		b = b.FineTune(c.wf.fineTune)
		sizeSet := false
		fs.Visit(func(f *flag.Flag) { sizeSet = sizeSet || f.Name == "size" })
		if sizeSet {
			b = b.Size(c.wf.size)
		}
		if c.wf.frozenEpochs > 0 {
			b = b.FrozenEpochs(c.wf.frozenEpochs)
		}
		if c.wf.backboneLRFactor > 0 {
			b = b.BackboneLRFactor(c.wf.backboneLRFactor)
		}
		if c.wf.backboneGroups > 0 {
			b = b.BackboneGroups(c.wf.backboneGroups)
		}
		if c.wf.weights != "" {
			b = b.Weights(c.wf.weights)
		}
	default:
		return usagef("give exactly one of --head EMBEDDER, --deep FAMILY and --fine-tune FAMILY")
	}
	if c.wf.fineTune == "" && (c.wf.frozenEpochs > 0 || c.wf.backboneLRFactor > 0 || c.wf.backboneGroups > 0 || c.wf.weights != "") {
		return usagef("--frozen-epochs, --backbone-lr-factor, --backbone-groups and --weights need --fine-tune")
	}
	if c.wf.epochs > 0 {
		b = b.Epochs(c.wf.epochs)
	}
	if c.wf.batch > 0 {
		b = b.BatchSize(c.wf.batch)
	}
	if c.wf.lr > 0 {
		b = b.LR(c.wf.lr)
	}
	if c.wf.backend != "" {
		b = b.Backend(mlkit.Backend(c.wf.backend))
	}
	if c.wf.devices != 1 {
		b = b.Devices(c.wf.devices)
	}
	if c.wf.replace {
		b = b.Replace()
	}
	if c.json {
		b = b.Quiet()
	}
	if c.wf.lrFind {
		return lrFind(c, b)
	}
	if c.wf.lrFindSteps > 0 {
		return usagef("--lr-find-steps needs --lr-find")
	}
	m, err := b.Run()
	if err != nil {
		return err
	}
	out := map[string]any{"model": m.Name, "kind": m.Kind, "family": m.Family, "embedder": m.Embedder, "dataset": m.Dataset,
		"version": m.Version, "dir": m.Dir, "summary": m.Summary, "history": m.History, "reused": m.Reused}
	return c.emit(out, func(w io.Writer) {
		if m.Reused {
			fmt.Fprintf(w, "model %s already trained with these settings on %s v%d (pass --replace to train it anew)\n", m.Name, m.Dataset, m.Version)
		}
		fmt.Fprintln(w, m.String())
	})
}

// lrFind runs the learning-rate range test of b and prints its suggestion (--json: with the series).
func lrFind(c *cli, b *mlkit.TrainBuilder) error {
	if c.wf.replace {
		return usagef("--lr-find saves nothing: it takes no --replace")
	}
	f, err := b.LRFindWith(train.LRFindOptions{Steps: c.wf.lrFindSteps})
	if err != nil {
		return err
	}
	return c.emit(f, func(w io.Writer) {
		fmt.Fprintln(w, f.String())
		fmt.Fprintf(w, "train with it: mlkit train ... --lr %.2g\n", f.Suggestion)
	})
}

// runModels lists the models (ls, the default) or deletes the named ones (rm).
func runModels(c *cli, _ *flag.FlagSet, args []string) error {
	sub := "ls"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "ls":
		if len(args) > 0 {
			return usagef("models ls takes no arguments")
		}
	case "rm":
		if len(args) == 0 {
			return usagef("models rm needs at least one model NAME")
		}
	default:
		return usagef("models: unknown subcommand %q (use ls or rm)", sub)
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	if sub == "rm" {
		for _, name := range args {
			if err := app.DeleteModel(name); err != nil {
				return err
			}
		}
		return c.emit(map[string]any{"deleted": args}, func(w io.Writer) {
			for _, name := range args {
				fmt.Fprintf(w, "deleted model %s\n", name)
			}
		})
	}
	ms, err := app.Models()
	if err != nil {
		return err
	}
	var out []map[string]any
	for _, m := range ms {
		out = append(out, map[string]any{"model": m.Name, "kind": m.Kind, "family": m.Family, "embedder": m.Embedder,
			"dataset": m.Dataset, "version": m.Version, "status": m.Status, "dir": m.Dir, "updated": m.Updated})
	}
	return c.emit(out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "model\tkind\tfamily\tdataset\tstatus\tupdated")
		for _, m := range ms {
			family := m.Family
			if m.Embedder != "" {
				family += " on " + m.Embedder
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s v%d\t%s\t%s\n", m.Name, m.Kind, family, m.Dataset, m.Version, m.Status, m.Updated.Local().Format("2006-01-02 15:04"))
		}
		_ = tw.Flush()
	})
}

func (c *cli) evalOpts() []mlkit.EvalOption {
	opts := []mlkit.EvalOption{mlkit.Threshold(c.wf.threshold), mlkit.AtVersion(c.wf.version)}
	if c.wf.recompute {
		opts = append(opts, mlkit.Recompute())
	}
	if c.wf.override != "" {
		opts = append(opts, mlkit.OverrideTestRule(c.wf.override))
	}
	if c.wf.leakAck != "" {
		opts = append(opts, mlkit.AcknowledgeLeakage(c.wf.leakAck))
	}
	return opts
}

// evalJSON is the machine-readable form of an evaluation: the report's JSON (NaN becomes null) with its
// per-concept rows and what was evaluated.
func evalJSON(e *mlkit.Evaluation) map[string]any {
	out := e.Report.JSON()
	for k, v := range map[string]any{"model": e.Model, "dataset": e.Dataset, "version": e.Version, "split": e.Split,
		"concepts": e.Report.ConceptsJSON(), "flag": e.Flag(), "created": e.Created, "reused": e.Reused} {
		out[k] = v
	}
	if e.Split == mlkit.SplitTest {
		out["run_by"] = e.RunBy
	}
	return out
}

// versionFlag is the --version flag as given ("" for the latest version).
func (c *cli) versionFlag() string {
	if c.wf.version == 0 {
		return ""
	}
	return fmt.Sprintf(" --version %d", c.wf.version)
}

// testRuleError rewords the one-time test rule's refusal for the command line: the way out is a flag of
// the command that was run (retry), not mlkit.OverrideTestRule.
func testRuleError(err error, dataset, retry string) error {
	var re *mlkit.TestRuleError
	var le *mlkit.LeakageError
	switch {
	case errors.As(err, &re):
		msg := fmt.Sprintf("%v: %s", mlkit.ErrTestRule, re.Reason())
		if re.NoSelection {
			msg += fmt.Sprintf("; select a model with `mlkit select --dataset %s` first", dataset)
		}
		if re.Again {
			retry += " --recompute"
		}
		return fmt.Errorf("%s; run `%s --override \"reason\"` to test again (the reason is recorded and the result flagged)", msg, retry)
	case errors.As(err, &le):
		return fmt.Errorf("%s: see them with `mlkit leakage --dataset %s`, drop one copy of each pair (`mlkit unlabel ID...`) and split again, or run `%s --acknowledge-leakage \"reason\"` to test anyway (recorded, result flagged)",
			le.Reason(), dataset, retry)
	case errors.Is(err, mlkit.ErrNoSelection):
		return fmt.Errorf("%w on %s yet: compare the models on validation and pick one with `mlkit select --dataset %s` first", mlkit.ErrNoSelection, dataset, dataset)
	}
	return err
}

// num is x for JSON output, null when it is NaN or infinite.
func num(x float64) any { return eval.NullIfNaN(x) }

func printEval(w io.Writer, e *mlkit.Evaluation) {
	fmt.Fprintln(w, e.String())
	table := e.ConceptTable().Text()
	if !strings.HasSuffix(table, "\n") {
		table += "\n"
	}
	fmt.Fprint(w, table)
	fmt.Fprintln(w, "confusion matrix (rows actual, columns predicted):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t\n", strings.Join(e.Report.Classes, "\t"))
	for i, row := range e.Report.Confusion {
		cells := make([]string, len(row))
		for j, v := range row {
			cells[j] = fmt.Sprint(v)
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", e.Report.Classes[i], strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
}

func runEvaluate(c *cli, _ *flag.FlagSet, args []string) error {
	if c.wf.model == "" {
		return usagef("--model NAME is required")
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	if c.wf.override != "" && c.wf.split != "test" {
		return usagef("--override is for --split test only")
	}
	if c.wf.leakAck != "" && c.wf.split != "test" {
		return usagef("--acknowledge-leakage is for --split test only")
	}
	e, err := app.Evaluate(c.wf.model, c.dataset, mlkit.Split(c.wf.split), c.evalOpts()...)
	if err != nil {
		return testRuleError(err, c.dataset, fmt.Sprintf("mlkit evaluate --dataset %s --model %s --split test%s", c.dataset, c.wf.model, c.versionFlag()))
	}
	return c.emit(evalJSON(e), func(w io.Writer) { printEval(w, e) })
}

func runCompare(c *cli, _ *flag.FlagSet, args []string) error {
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	cmp, err := app.Compare(c.dataset, mlkit.Split(c.wf.split), args...)
	if err != nil {
		return err
	}
	var out []map[string]any
	for _, e := range cmp.Evaluations {
		out = append(out, evalJSON(e))
	}
	return c.emit(out, func(w io.Writer) { fmt.Fprint(w, cmp.Table().Text()) })
}

func runSelect(c *cli, _ *flag.FlagSet, args []string) error {
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	ch, err := app.Select(c.dataset, mlkit.Split(c.wf.split), mlkit.Metric(c.wf.metric), args...)
	if err != nil {
		return err
	}
	ranking := ch.RankingJSON()
	for i, r := range ch.Ranking {
		ranking[i]["accuracy"] = num(r.Report.Accuracy)
	}
	out := map[string]any{"dataset": ch.Dataset, "version": ch.Version, "split": ch.Split, "metric": ch.Metric, "winner": ch.Winner,
		"value": num(ch.Value), "ranking": ranking}
	return c.emit(out, func(w io.Writer) {
		fmt.Fprintf(w, "selected %s on %s v%d %s by %s (%.4f)\n", ch.Winner, ch.Dataset, ch.Version, ch.Split, ch.Metric, ch.Value)
		for i, r := range ranking {
			fmt.Fprintf(w, "  %d. %v\n", i+1, r["model"])
		}
	})
}

func runTest(c *cli, _ *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("test takes no arguments: it evaluates the model selected with `mlkit select` (to look at another, use `mlkit evaluate --model NAME --split test --override REASON`)")
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	e, err := app.Test(c.dataset, c.evalOpts()...)
	if err != nil {
		return testRuleError(err, c.dataset, "mlkit test --dataset "+c.dataset+c.versionFlag())
	}
	rec, err := app.TestHistory(c.dataset)
	if err != nil {
		return err
	}
	out := evalJSON(e)
	var history []map[string]any
	for _, r := range rec.Runs {
		h := map[string]any{"model": r.Model, "dataset": r.Dataset, "version": r.Version, "run_by": r.RunBy, "created": r.Created,
			"override": r.Override, "inputs": r.Inputs, "shared": r.Shared}
		if r.Evaluation != nil {
			h["accuracy"], h["macro_roc_auc"] = num(r.Evaluation.Report.Accuracy), num(r.Evaluation.Report.MacroROCAUC)
		}
		history = append(history, h)
	}
	out["history"] = history
	return c.emit(out, func(w io.Writer) {
		printEval(w, e)
		how := "tested"
		if e.Reused {
			how = "recorded result: tested"
		}
		by := e.RunBy
		if by == "" {
			by = "an unrecorded user"
		}
		fmt.Fprintf(w, "%s by %s at %s\n\n", how, by, e.Created.Local().Format("2006-01-02 15:04 MST"))
		fmt.Fprint(w, rec.Table().Text())
	})
}

func runPredict(c *cli, _ *flag.FlagSet, args []string) error {
	if c.wf.model == "" || len(args) != 1 {
		return usagef("predict needs --model NAME and one FOLDER")
	}
	var p *mlkit.Predictor
	var err error
	if st, statErr := os.Stat(c.wf.model); statErr == nil && st.IsDir() {
		p, err = mlkit.LoadPredictor(c.wf.model)
	} else {
		app, aerr := c.openApp()
		if aerr != nil {
			return aerr
		}
		defer app.Close()
		p, err = app.Predictor(c.wf.model)
	}
	if err != nil {
		return err
	}
	if c.wf.flipTTA {
		if err := p.FlipTTA(true); err != nil {
			return usageError{"--flip-tta: " + err.Error()}
		}
	}
	preds, err := p.PredictFolder(args[0])
	if err != nil {
		return err
	}
	sum := mlkit.SummarizePredictions(preds)
	if c.json {
		out := []map[string]any{}
		for _, pr := range preds {
			status := "predicted"
			if pr.Skipped() {
				status = "skipped"
			}
			out = append(out, map[string]any{"file": pr.File, "status": status, "predicted": pr.Class, "confidence": pr.Confidence,
				"reason": pr.Reason, "error": pr.Err})
		}
		if err := c.emit(out, nil); err != nil {
			return err
		}
	} else {
		where := ""
		if c.wf.out == "" {
			if err := p.WriteCSV(c.stdout, preds); err != nil {
				return fmt.Errorf("writing CSV: %w", err)
			}
		} else {
			f, err := os.Create(c.wf.out)
			if err != nil {
				return err
			}
			err = p.WriteCSV(f, preds)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("writing CSV %s: %w", c.wf.out, err)
			}
			where = " to " + c.wf.out
		}
		fmt.Fprintf(c.stderr, "%s%s\n", sum, where)
	}
	return nothingPredicted(args[0], preds)
}

// nothingPredicted is the error of a predict run that predicted no image (an empty folder, or only
// files that are not images), nil otherwise.
func nothingPredicted(dir string, preds []mlkit.Prediction) error {
	for _, pr := range preds {
		if pr.Err == "" && !pr.Skipped() {
			return nil
		}
	}
	if len(preds) == 0 {
		return fmt.Errorf("nothing predicted: no files in %s", dir)
	}
	return fmt.Errorf("nothing predicted: none of the %d files in %s is a readable image (%s)", len(preds), dir, mlkit.SummarizePredictions(preds))
}

func runExport(c *cli, _ *flag.FlagSet, args []string) error {
	if c.wf.out == "" || (c.dataset == "") == (c.wf.model == "") {
		return usagef("export needs --out DIR and exactly one of --dataset NAME and --model NAME")
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	if c.wf.model != "" {
		if err := app.ExportModel(c.wf.model, c.wf.out); err != nil {
			return err
		}
		dir, err := filepath.Abs(c.wf.out)
		if err != nil {
			dir = c.wf.out
		}
		// The export is its own Go module: the program runs from inside it.
		runCmd := fmt.Sprintf("cd %s && go run ./predict . IMAGE...", dir)
		return c.emit(map[string]any{"model": c.wf.model, "dir": c.wf.out, "run": runCmd}, func(w io.Writer) {
			fmt.Fprintf(w, "exported model %s to %s (a standalone Go module; run: %s)\n", c.wf.model, c.wf.out, runCmd)
		})
	}
	n, err := app.ExportDataset(c.dataset, c.wf.out)
	if err != nil {
		return err
	}
	return c.emit(map[string]any{"dataset": c.dataset, "dir": c.wf.out, "images": n}, func(w io.Writer) {
		fmt.Fprintf(w, "exported %s of %s to %s (ImageFolder layout + dataset.csv)\n", view.Count(n, "image"), c.dataset, c.wf.out)
	})
}

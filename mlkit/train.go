package mlkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/visionnb/visionnb/mlkit/backend"

	"time"

	"github.com/visionnb/visionnb/mlkit/internal/atomicfile"
	"github.com/visionnb/visionnb/mlkit/internal/lockfile"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/names"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/train"
	"github.com/visionnb/visionnb/mlkit/view"
)

// Model kinds.
const (
	KindHead = "head" // a classifier on frozen embeddings (transfer learning)
	KindDeep = "deep" // a network trained from images
	// KindFineTune is a network trained from images starting from pretrained weights (see FineTune).
	KindFineTune = train.KindFineTune
)

// TrainBuilder configures a training run; Run trains, saves the model in the app and returns it. Start
// with App.Train. The training options (train.Options) are set with Options, or with the shortcuts
// Epochs, BatchSize, LR, Seed and Quiet; TuneHead and TuneDeep reach the options of one kind only.
type TrainBuilder struct {
	app      *App
	name     string
	dataset  string
	embedder string
	family   string
	cfg      models.Config
	options  func(train.Options) train.Options // the caller's options, applied by Run to the kind's defaults
	tuneHead func(*train.HeadBuilder) *train.HeadBuilder
	tuneDeep func(*train.DeepBuilder) *train.DeepBuilder
	fineTune *fineTuneSettings // set by FineTune (see finetune.go)
	backend  string
	opts     optionChecks // problems of the options set, reported by Run (see options_check.go)
	replace  bool
}

// Train starts configuring a model saved in the app under name. Choose its kind with Head (transfer
// learning) or Deep (from scratch). Training again under a name with the same settings on the same dataset
// version returns the saved model; other settings (or another version) need Replace, or another name.
func (a *App) Train(name string) *TrainBuilder {
	return &TrainBuilder{app: a, name: name, cfg: models.New(),
		options: func(o train.Options) train.Options { return o.Seed(42) }}
}

// Options changes the training options (optimizer, schedule, epochs, early stopping, label smoothing,
// class balancing...): fn receives them as set so far, starting from the defaults of the model's kind
// (train.HeadDefaults or train.DeepDefaults, with seed 42), and returns them changed. Calls apply in
// order, with the shortcuts below:
//
//	app.Train("m").OnDataset("animals").Deep("resnet50").Epochs(20).
//		Options(func(o train.Options) train.Options { return o.WarmupEpochs(1).LabelSmoothing(0.1) }).Run()
//
// The model's folder and the dataset's description are the app's: Run sets them after fn.
func (b *TrainBuilder) Options(fn func(train.Options) train.Options) *TrainBuilder {
	prev := b.options
	b.options = func(o train.Options) train.Options { return fn(prev(o)) }
	return b
}

// OnDataset trains on the latest version of dataset: its train split, validated on its validation
// split. The test split is never read by training.
func (b *TrainBuilder) OnDataset(name string) *TrainBuilder { b.dataset = name; return b }

// Head makes this a transfer-learning model: a classifier on the frozen, cached embeddings of embedder.
func (b *TrainBuilder) Head(embedder string) *TrainBuilder {
	b.embedder, b.family, b.fineTune = embedder, "", nil
	return b
}

// Deep makes this a network trained from scratch: family is a trainable name of the model registry
// (zoo.Names): "resnet50" (or resnet18/34/101/152), "efficientnet_b0" ... "efficientnet_b7",
// "mobilenetv2", "mobilenet_v2_035", or one registered with zoo.Register.
func (b *TrainBuilder) Deep(family string) *TrainBuilder {
	b.family, b.embedder, b.fineTune = family, "", nil
	return b
}

// Size sets the training resolution of a deep model in pixels (224 is the reference; 64 trains ~12x
// faster on a CPU).
func (b *TrainBuilder) Size(px int) *TrainBuilder {
	b.cfg.InputSize = px
	b.opts.intIn("Size", px, MinSize, MaxSize)
	return b
}

// Epochs sets the number of passes over the train split (train.Options.Epochs, range-checked).
func (b *TrainBuilder) Epochs(n int) *TrainBuilder {
	b.opts.intIn("Epochs", n, 1, MaxEpochs)
	return b.Options(func(o train.Options) train.Options { return o.Epochs(n) })
}

// BatchSize sets the batch size (train.Options.BatchSize, range-checked).
func (b *TrainBuilder) BatchSize(n int) *TrainBuilder {
	b.opts.intIn("BatchSize", n, 1, MaxBatchSize)
	return b.Options(func(o train.Options) train.Options { return o.BatchSize(n) })
}

// LR sets the peak learning rate (train.Options.LR, range-checked).
func (b *TrainBuilder) LR(lr float64) *TrainBuilder {
	b.opts.floatIn("LR", lr, MinLR, MaxLR)
	return b.Options(func(o train.Options) train.Options { return o.LR(lr) })
}

// Seed makes the run reproducible on one backend (default 42).
func (b *TrainBuilder) Seed(seed int64) *TrainBuilder {
	return b.Options(func(o train.Options) train.Options { return o.Seed(seed) })
}

// Model sets a deep model's configuration (width/depth multipliers, dropout, stochastic depth); the
// number of classes and the size are filled in.
func (b *TrainBuilder) Model(cfg models.Config) *TrainBuilder { b.cfg = cfg; return b }

// TuneHead gives access to the options of heads only (hidden layer, dropout, L2, multi-label); the shared
// ones are set with Options.
func (b *TrainBuilder) TuneHead(fn func(*train.HeadBuilder) *train.HeadBuilder) *TrainBuilder {
	b.tuneHead = fn
	return b
}

// TuneDeep gives access to the options of deep training only (augmentation); the shared ones (optimizer,
// schedule, label smoothing...) are set with Options.
func (b *TrainBuilder) TuneDeep(fn func(*train.DeepBuilder) *train.DeepBuilder) *TrainBuilder {
	b.tuneDeep = fn
	return b
}

// Backend names a compute backend: BackendXLACPU, BackendXLACUDA, BackendPureGo, or any GoMLX backend
// configuration string.
type Backend string

// The backends mlkit installs and tests.
const (
	BackendXLACPU  Backend = "xla:cpu"  // XLA on the CPU (the PJRT plugin `make setup` installs)
	BackendXLACUDA Backend = "xla:cuda" // XLA on NVIDIA GPUs (go run ./mlkit/backend/cmd/install-xla-cuda)
	BackendPureGo  Backend = "mlkitgo"  // mlkit's pure-Go backend: no plugin, starts in seconds
)

// Backend runs this training on a named backend instead of the default one. On a CPU, XLA needs minutes
// to compile EfficientNet's training graph while the pure-Go backend starts in seconds; on a GPU use
// BackendXLACUDA.
func (b *TrainBuilder) Backend(name Backend) *TrainBuilder { b.backend = string(name); return b }

// Devices trains data-parallel on n devices (0: every device of the backend; default one), see
// train.Options.Devices: the batch is split over the devices and the result is the one-device result on
// the same batch, so the count is not part of the model's settings (a model trained on one device is
// reused, a checkpoint resumes on another count). The batch size must divide by n; n > 1 needs XLA.
func (b *TrainBuilder) Devices(n int) *TrainBuilder {
	b.opts.intIn("Devices", n, 0, MaxDevices)
	return b.Options(func(o train.Options) train.Options { return o.Devices(n) })
}

// Quiet turns off the progress display.
func (b *TrainBuilder) Quiet() *TrainBuilder {
	return b.Options(func(o train.Options) train.Options { return o.Quiet() })
}

// Replace deletes a model already saved under this name (its folder, its record and its evaluations, see
// App.DeleteModel) and trains anew, even with the same settings. Without it, Run refuses to overwrite a
// model trained with other settings or on another dataset version.
func (b *TrainBuilder) Replace() *TrainBuilder { b.replace = true; return b }

// TrainedModel is a model saved in the app.
type TrainedModel struct {
	store.Model
	// History is the per-epoch training record.
	History []train.EpochStats
	// Result is set by Run. When Reused, it is read back from the model's folder: nothing was built or
	// compiled, its Predictor is nil (use App.Predictor) and Elapsed is the time this call took.
	Result *train.Result
	// Reused is true when Run found this model already trained with the same settings on the same dataset
	// version and returned it without training.
	Reused bool
	// live is the notebook output where Run redrew the curves after every epoch (nil when none was
	// drawn): ShowCurves draws there instead of adding a second chart to the cell.
	live liveOutput
}

// Summary is what the app records about a finished run.
type Summary struct {
	Backend          string  `json:"backend"`
	Seconds          float64 `json:"seconds"`
	ExamplesPerSec   float64 `json:"examples_per_second"`
	Epochs           int     `json:"epochs"`
	BestEpoch        int     `json:"best_epoch"`
	ValAccuracy      float64 `json:"val_accuracy"`
	TrainExamples    int     `json:"train_examples"`
	ValExamples      int     `json:"val_examples"`
	ResumedFromEpoch int     `json:"resumed_from_epoch"`
	// Collapsed is true when the model's validation predictions (at BestEpoch) collapsed to one class,
	// CollapsedTo (see train.Collapse); PredictedShare is the share of those predictions per class.
	Collapsed      bool               `json:"collapsed,omitempty"`
	CollapsedTo    string             `json:"collapsed_to,omitempty"`
	PredictedShare map[string]float64 `json:"predicted_share,omitempty"`
}

// trainer is a configured head or deep run (train.HeadBuilder, train.DeepBuilder).
type trainer interface {
	Fit() (*train.Result, error)
	LRFind(o train.LRFindOptions) (*train.LRFindResult, error)
}

// runPlan is what Run and LRFind share: the model's record and folder, the dataset version and classes,
// the split sizes, and configure, which sets up the run on backend be (nil: the default one) and returns
// it with the config it will save.
type runPlan struct {
	rec          store.Model
	dir, desc    string
	classes      []string
	version      store.Version
	nTrain, nVal int
	configure    func(be backends.Backend) (trainer, train.RunConfig)
}

// plan validates everything before any compute (options, dataset, labels, classes) and configures the
// run, reporting progress to prog.
func (b *TrainBuilder) plan(prog train.Progress) (*runPlan, error) {
	if err := b.checkOptions(); err != nil {
		return nil, err
	}
	if b.dataset == "" {
		return nil, fmt.Errorf("mlkit: train %q: say which dataset with .OnDataset(name)", b.name)
	}
	if (b.embedder == "") == (b.family == "") {
		return nil, fmt.Errorf("mlkit: train %q: choose .Head(embedder) for transfer learning or .Deep(family) to train from scratch", b.name)
	}
	v, members, err := b.app.versionMembers(b.dataset)
	if err != nil {
		return nil, err
	}
	classes := classesOf(members)
	if len(classes) < 2 {
		return nil, fmt.Errorf("mlkit: train %q: dataset %s v%d has %d labelled class(es); a classifier needs at least 2", b.name, b.dataset, v.Number, len(classes))
	}
	label := map[string]int{}
	for i, c := range classes {
		label[c] = i
	}
	rel := filepath.Join("models", b.name)
	dir := filepath.Join(b.app.Dir(), rel)
	desc := fmt.Sprintf("%s v%d (%s)", b.dataset, v.Number, b.app.Dir())
	rec := store.Model{Name: b.name, Dataset: b.dataset, Version: v.Number, Dir: rel, Classes: classes, Status: "training"}
	var nTrain, nVal int
	// configure sets up the head or deep run on backend be (nil: the default one) and returns it with the
	// config it will save. It is called without a backend first, so that a saved run is recognised before
	// any backend is started.
	var configure func(be backends.Backend) (run trainer, planned train.RunConfig)
	if b.embedder != "" {
		rec.Kind, rec.Embedder = KindHead, b.embedder
		emb, err := b.app.Embed(b.embedder)
		if err != nil {
			return nil, err
		}
		tr, va, err := trainingSplits(members, func(m store.Member) (train.Embedded, error) {
			vec := emb.Vector(m.InputID)
			if vec == nil {
				return train.Embedded{}, fmt.Errorf("mlkit: train %q: input %d has no %s embedding", b.name, m.InputID, b.embedder)
			}
			return train.Embedded{ID: m.InputID, Vector: vec, Label: label[m.Concept]}, nil
		})
		if err != nil {
			return nil, err
		}
		nTrain, nVal = len(tr), len(va)
		configure = func(be backends.Backend) (trainer, train.RunConfig) {
			h := train.Head(classes, tr, va).With(b.runOptions(train.HeadDefaults(), prog, dir, desc, be))
			if b.tuneHead != nil {
				h = b.tuneHead(h)
			}
			return h, h.Planned()
		}
	} else {
		fam, err := zoo.Lookup(b.family)
		if err != nil {
			return nil, fmt.Errorf("mlkit: train %q: %w", b.name, err)
		}
		if !fam.Trainable() {
			return nil, fmt.Errorf("mlkit: train %q: model %q is pretrained only (an embedder: use it with Head); cannot train it from scratch", b.name, fam.Name)
		}
		rec.Kind, rec.Family = KindDeep, fam.Name // the registry's spelling, whichever alias was typed
		cfg := b.cfg.Classes(len(classes))
		if cfg.InputSize == 0 {
			cfg.InputSize = 224
			if b.fineTune != nil {
				cfg.InputSize = DefaultFineTuneSize
			}
		}
		tr, va, _ := trainingSplits(members, func(m store.Member) (train.Example, error) {
			return train.Example{ID: m.InputID, Path: b.app.st.BlobPath(m.SHA256), Label: label[m.Concept]}, nil
		})
		nTrain, nVal = len(tr), len(va)
		if b.fineTune != nil {
			rec.Kind = KindFineTune
			if configure, err = b.fineTuneConfigure(fam, cfg, classes, tr, va, prog, dir, desc); err != nil {
				return nil, err
			}
		} else {
			configure = b.deepConfigure(fam, cfg, classes, tr, va, prog, dir, desc)
		}
		if rec.Config, err = json.Marshal(cfg); err != nil {
			return nil, fmt.Errorf("mlkit: train %q: encoding the model configuration %+v: %w", b.name, cfg, err)
		}
	}
	return &runPlan{rec: rec, dir: dir, desc: desc, classes: classes, version: v, nTrain: nTrain, nVal: nVal,
		configure: configure}, nil
}

// deepConfigure returns the configure function of a deep run from scratch.
func (b *TrainBuilder) deepConfigure(fam zoo.Spec, cfg models.Config, classes []string, tr, va []train.Example,
	prog train.Progress, dir, desc string) func(be backends.Backend) (trainer, train.RunConfig) {
	return func(be backends.Backend) (trainer, train.RunConfig) {
		d := train.Deep(fam, cfg).Data(classes, tr, va).CacheDir(filepath.Join(b.app.Dir(), "cache", "pixels")).
			With(b.runOptions(train.DeepRecipe(fam), prog, dir, desc, be))
		if b.tuneDeep != nil {
			d = b.tuneDeep(d)
		}
		return d, d.Planned()
	}
}

// Run validates everything before any compute (dataset, labels, classes), trains with a progress
// display, saves the model (checkpoint, config, history) under the app's models/ folder, records it in
// the app and returns it.
//
// Running it again is safe. A model already trained under this name with the same settings on the same
// dataset version is returned at once (Reused; nothing is trained, built or compiled). An interrupted run
// (killed, or failed) resumes from its last checkpoint. A model of this name trained otherwise is an
// error naming what differs, unless Replace was called. Only one process trains a given name at a time:
// another one gets an error naming the process that does.
func (b *TrainBuilder) Run() (*TrainedModel, error) {
	ctx := context.Background()
	start := time.Now()
	prog := newTrainProgress(b.name) // shown unless the options say Quiet
	p, err := b.plan(prog)
	if err != nil {
		return nil, err
	}
	rec, dir, classes, v, nTrain, nVal, configure := p.rec, p.dir, p.classes, p.version, p.nTrain, p.nVal, p.configure
	var res *train.Result
	_, planned := configure(nil)
	if rec.Kind == KindHead {
		rec.Family = headFamily(planned)
	}
	lock, err := b.app.lockModel(b.name)
	if err != nil {
		return nil, fmt.Errorf("mlkit: train: %w", err)
	}
	defer lock.Release()
	if reused, err := b.app.prepareModel(ctx, b, rec, dir, planned); err != nil || reused != nil {
		if reused != nil {
			reused.Result.Elapsed = time.Since(start)
		}
		return reused, err
	}
	var be backends.Backend
	if b.backend != "" {
		if be, err = backend.Named(b.backend); err != nil {
			return nil, fmt.Errorf("mlkit: train %q: %w", b.name, err)
		}
	}
	run, _ := configure(be)
	if err := b.app.st.Tx(ctx, func(tx *store.Tx) error { _, err := tx.PutModel(ctx, rec); return err }); err != nil {
		return nil, err
	}
	if res, err = run.Fit(); err != nil {
		b.app.failModel(ctx, b.name)
		return nil, fmt.Errorf("mlkit: training %q: %w", b.name, err)
	}
	// The run's time is this call's, as for a reused model: decoding, compiling and the epochs, so that the
	// summary (and String) say what the cell took, and the progress line's last message says the same.
	res.Elapsed = time.Since(start)
	prog.done(res)
	liveCurves := prog.drawn()
	if err := writeModelCard(dir, ModelCard{Name: b.name, Kind: rec.Kind, Family: rec.Family, Embedder: rec.Embedder,
		Classes: classes, Dataset: b.dataset, Version: v.Number}); err != nil {
		return nil, err
	}
	sumJSON, err := summaryJSON(res, nTrain, nVal)
	if err != nil {
		b.app.failModel(ctx, b.name)
		return nil, fmt.Errorf("mlkit: training %q: %w", b.name, err)
	}
	m, err := b.app.st.Model(ctx, b.name)
	if err != nil {
		return nil, err
	}
	if err := b.app.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetModelStatus(ctx, m.ID, "done", sumJSON) }); err != nil {
		return nil, err
	}
	m.Status, m.Summary = "done", sumJSON
	return &TrainedModel{Model: m, History: res.History, Result: res, live: liveCurves}, nil
}

// headFamily is what a head is recorded as: "mlp" with a hidden layer, "linear" without.
func headFamily(cfg train.RunConfig) string {
	if cfg.Hidden > 0 {
		return "mlp"
	}
	return "linear"
}

// prepareModel decides, under the model's lock, what Run does with what is saved under the model's name:
// it returns the saved model when it is the planned run, finished (reuse); deletes it when Replace was
// asked; refuses one trained otherwise; and otherwise (nothing saved, or the planned run interrupted)
// returns nil for Run to train or resume.
func (a *App) prepareModel(ctx context.Context, b *TrainBuilder, rec store.Model, dir string, planned train.RunConfig) (*TrainedModel, error) {
	old, err := a.st.Model(ctx, rec.Name)
	hasOld := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	state, err := train.Inspect(dir, planned)
	if err != nil {
		return nil, fmt.Errorf("mlkit: train %q: %w", rec.Name, err)
	}
	if b.replace {
		if hasOld || state.Exists {
			return nil, a.deleteModelLocked(ctx, rec.Name)
		}
		return nil, nil
	}
	var diffs []string
	if hasOld {
		if old.Dataset != rec.Dataset || old.Version != rec.Version {
			diffs = append(diffs, fmt.Sprintf("dataset version: %s v%d → %s v%d", old.Dataset, old.Version, rec.Dataset, rec.Version))
		}
		// A head's family follows from its settings (compared below); records made before heads with a hidden
		// layer were called "mlp" say "linear", so only a deep family is compared here.
		if old.Kind != rec.Kind || old.Embedder != rec.Embedder || (rec.Kind != KindHead && zoo.Canonical(old.Family) != zoo.Canonical(rec.Family)) {
			diffs = append(diffs, fmt.Sprintf("model: %s → %s", describeKind(old), describeKind(rec)))
		}
		if !state.Exists && old.Status == "done" {
			diffs = append(diffs, fmt.Sprintf("its folder %s is missing", old.Dir))
		}
	}
	diffs = append(diffs, state.Differences...)
	if len(diffs) > 0 {
		return nil, fmt.Errorf("mlkit: train %q: a model of that name is already saved, trained otherwise (%s): call .Replace() (CLI: --replace) to delete it, with its evaluations, and train anew, or train under another name",
			rec.Name, strings.Join(diffs, "; "))
	}
	if hasOld && old.Status == "done" && state.Finished {
		res, err := train.SavedResult(dir)
		if err != nil {
			return nil, fmt.Errorf("mlkit: train %q: %w", rec.Name, err)
		}
		return &TrainedModel{Model: old, History: res.History, Result: res, Reused: true}, nil
	}
	return nil, nil
}

// describeKind names a model's kind for messages: "head (mlp) on mobilenet_v2" or "deep resnet50".
func describeKind(m store.Model) string {
	if m.Kind == KindHead {
		return fmt.Sprintf("head (%s) on %s", m.Family, m.Embedder)
	}
	return m.Kind + " " + m.Family
}

// modelLockPath is the lock file of a model name: next to its folder, so deleting the folder keeps it.
func (a *App) modelLockPath(name string) string {
	return filepath.Join(a.Dir(), "models", name+".lock")
}

// lockModel takes the lock that lets one process at a time train (or delete) the model name.
func (a *App) lockModel(name string) (*lockfile.Lock, error) {
	if err := os.MkdirAll(filepath.Join(a.Dir(), "models"), 0o755); err != nil {
		return nil, fmt.Errorf("model %q: creating the models folder: %w", name, err)
	}
	l, err := lockfile.Acquire(a.modelLockPath(name))
	var held *lockfile.HeldError
	if errors.As(err, &held) {
		since := "an unknown time"
		if !held.Since.IsZero() {
			since = held.Since.Local().Format("2006-01-02 15:04:05")
		}
		return nil, fmt.Errorf("model %q is being trained by process %d (since %s); wait for it to finish, or stop that process", name, held.PID, since)
	}
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	return l, nil
}

// withLiveStatus shows a record left "training" by a process that is gone as "interrupted".
func (a *App) withLiveStatus(m store.Model) store.Model {
	if m.Status == "training" {
		if _, _, held, err := lockfile.Holder(a.modelLockPath(m.Name)); err == nil && !held {
			m.Status = StatusInterrupted
		}
	}
	return m
}

// StatusInterrupted is the status shown for a model whose training stopped before the end without
// finishing or failing (its process was killed): training it again with the same settings resumes it.
const StatusInterrupted = "interrupted"

// DeleteModel deletes a saved model: its folder, its record and its evaluations. A model that was
// evaluated on a test split keeps its test evaluations in the app, attached to a record renamed
// "NAME (deleted #ID)", so that the test split's history (and the one-time rule) still sees that it was
// looked at. A model being trained cannot be deleted. It wraps store.ErrNotFound when there is no such model.
func (a *App) DeleteModel(name string) error {
	if err := names.Model(name); err != nil {
		return fmt.Errorf("mlkit: delete model: %w", err)
	}
	lock, err := a.lockModel(name)
	if err != nil {
		return fmt.Errorf("mlkit: delete: %w", err)
	}
	defer lock.Release()
	return a.deleteModelLocked(context.Background(), name)
}

// deleteModelLocked deletes a model's record and folder; the caller holds the model's lock.
func (a *App) deleteModelLocked(ctx context.Context, name string) error {
	var kept bool
	err := a.st.Tx(ctx, func(tx *store.Tx) (err error) { kept, err = tx.DeleteModel(ctx, name); return err })
	noRecord := errors.Is(err, store.ErrNotFound)
	if err != nil && !noRecord {
		return fmt.Errorf("mlkit: deleting model %q: %w", name, err)
	}
	dir := filepath.Join(a.Dir(), "models", name)
	_, statErr := os.Stat(dir)
	if noRecord && errors.Is(statErr, os.ErrNotExist) {
		return fmt.Errorf("mlkit: delete: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("mlkit: deleting the folder of model %q: %w", name, err)
	}
	if kept {
		fmt.Fprintf(Messages, "model %s deleted; its test-split evaluations stay in the test history\n", name)
	}
	return nil
}

// runOptions are the training options of a run: defaults (those of the model's kind) with the app's
// progress display, the caller's options in call order, then the model's folder and the dataset's
// description, and the backend named with Backend (be; nil: the default one).
func (b *TrainBuilder) runOptions(defaults train.Options, prog train.Progress, dir, desc string, be backends.Backend) train.Options {
	o := b.options(defaults.Progress(prog)).OutputDir(dir).Dataset(desc)
	if be != nil {
		o = o.Backend(be)
	}
	return o
}

// summaryJSON is the Summary of a run as recorded in the app.
func summaryJSON(res *train.Result, nTrain, nVal int) ([]byte, error) {
	sum := summarize(res, nTrain, nVal)
	data, err := json.Marshal(sum)
	if err != nil {
		return nil, fmt.Errorf("encoding the run's summary %+v: %w", sum, err)
	}
	return data, nil
}

// summarize reduces a run's result to its Summary.
func summarize(res *train.Result, nTrain, nVal int) Summary {
	s := Summary{Backend: res.Backend, Seconds: res.Elapsed.Seconds(), Epochs: len(res.History), BestEpoch: res.BestEpoch,
		TrainExamples: nTrain, ValExamples: nVal, ResumedFromEpoch: res.ResumedFromEpoch}
	var n, secs float64
	for _, h := range res.History {
		if h.ExamplesPerSecond > 0 {
			n += h.ExamplesPerSecond * h.Seconds
			secs += h.Seconds
		}
	}
	if secs > 0 {
		s.ExamplesPerSec = n / secs
	}
	if res.BestEpoch > 0 && res.BestEpoch <= len(res.History) {
		st := res.History[res.BestEpoch-1]
		s.ValAccuracy = st.ValAccuracy
		s.Collapsed, s.CollapsedTo = st.CollapsedTo != "", st.CollapsedTo
		if len(st.ValPredictedShare) == len(res.Classes) {
			s.PredictedShare = map[string]float64{}
			for i, c := range res.Classes {
				s.PredictedShare[c] = st.ValPredictedShare[i]
			}
		}
	}
	return s
}

func (a *App) failModel(ctx context.Context, name string) {
	if m, err := a.st.Model(ctx, name); err == nil {
		_ = a.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetModelStatus(ctx, m.ID, "failed", nil) })
	}
}

// versionMembers returns the latest version of a dataset and its members.
func (a *App) versionMembers(dataset string) (store.Version, []store.Member, error) {
	return a.versionMembersAt(dataset, 0)
}

// versionMembersAt returns version n of a dataset (0: the latest) and its members.
func (a *App) versionMembersAt(dataset string, n int) (store.Version, []store.Member, error) {
	ctx := context.Background()
	v, err := a.st.Version(ctx, dataset, n)
	if err != nil {
		return v, nil, fmt.Errorf("mlkit: dataset %q: %w (create it with app.Split)", dataset, err)
	}
	members, err := a.st.Members(ctx, v.ID)
	if err != nil {
		return v, nil, fmt.Errorf("mlkit: dataset %q v%d: %w", dataset, v.Number, err)
	}
	return v, members, nil
}

// trainingSplits turns the labelled members of the train and validation splits into training items made by
// item, in member order; the test split is never read by training.
func trainingSplits[T any](members []store.Member, item func(store.Member) (T, error)) (tr, va []T, err error) {
	for _, m := range members {
		if m.Concept == "" || (m.Split != store.Train && m.Split != store.Validation) {
			continue
		}
		x, err := item(m)
		if err != nil {
			return nil, nil, err
		}
		if m.Split == store.Train {
			tr = append(tr, x)
		} else {
			va = append(va, x)
		}
	}
	return tr, va, nil
}

// classesOf returns the sorted concept names present among members.
func classesOf(members []store.Member) []string {
	seen := map[string]bool{}
	for _, m := range members {
		if m.Concept != "" {
			seen[m.Concept] = true
		}
	}
	var out []string
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Models lists the app's models, oldest first. A model whose training process is gone before the end
// has Status StatusInterrupted.
func (a *App) Models() ([]store.Model, error) {
	ms, err := a.st.Models(context.Background())
	for i := range ms {
		ms[i] = a.withLiveStatus(ms[i])
	}
	return ms, err
}

// LoadModel returns a saved model with its training history (Status as in Models).
func (a *App) LoadModel(name string) (*TrainedModel, error) {
	m, err := a.st.Model(context.Background(), name)
	if err != nil {
		return nil, fmt.Errorf("mlkit: %w (train it with app.Train(%q)...Run())", err, name)
	}
	tm := &TrainedModel{Model: a.withLiveStatus(m)}
	path := filepath.Join(a.Dir(), m.Dir, train.HistoryFile)
	if raw, err := os.ReadFile(path); err == nil {
		var h struct {
			Epochs []train.EpochStats `json:"epochs"` // what train writes into history.json
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("mlkit: model %q: reading its training history %s: %w", name, path, err)
		}
		tm.History = h.Epochs
	}
	return tm, nil
}

// Show prints the model's one-line summary and displays its training curves (when it has a history).
func (m *TrainedModel) Show() error {
	fmt.Println(m.String())
	if len(m.History) == 0 {
		return nil
	}
	return m.ShowCurves()
}

// ShowCurves displays the model's loss and accuracy per epoch, train against validation. When Run
// trained the model in this notebook cell, the curves it redrew after every epoch are already in the
// cell's output: ShowCurves draws its final state there instead of adding a second copy.
func (m *TrainedModel) ShowCurves() error {
	if len(m.History) == 0 {
		return fmt.Errorf("mlkit: model %q has no training history", m.Name)
	}
	chart := curvesChart(m.Name, m.History)
	if m.live != nil {
		if err := m.live.Finish(chart); err != nil {
			return fmt.Errorf("mlkit: model %q: drawing its curves: %w", m.Name, err)
		}
		return nil
	}
	_, err := view.Show(chart)
	return err
}

// curvesChart is the loss and accuracy per epoch of a training history, train against validation.
func curvesChart(name string, history []train.EpochStats) view.Renderable {
	var tl, vl, ta, va []float64
	hasVal := false
	for _, h := range history {
		tl, ta = append(tl, h.TrainLoss), append(ta, h.TrainAccuracy)
		vl, va = append(vl, h.ValLoss), append(va, h.ValAccuracy)
		hasVal = hasVal || h.HasVal
	}
	loss := view.Line().Title(name+": loss").XLabel("epoch").YLabel("cross-entropy").Values("train", tl)
	acc := view.Line().Title(name+": accuracy").XLabel("epoch").YLabel("accuracy").YRange(0, 1).Values("train", ta)
	if hasVal {
		loss.Values("validation", vl)
		acc.Values("validation", va)
	}
	return view.Row(loss.Size(480, 320), acc.Size(480, 320))
}

// String is a one-line description of the model.
func (m *TrainedModel) String() string {
	var s Summary
	_ = json.Unmarshal(m.Summary, &s)
	what := m.Family
	switch m.Kind {
	case KindHead:
		what = "head on " + m.Embedder
	case KindFineTune:
		what = "fine-tuned " + m.Family
	}
	line := fmt.Sprintf("%s (%s) on %s v%d: %s in %s (%.0f img/s, %s), validation accuracy %.3f",
		m.Name, what, m.Dataset, m.Version, view.Count(s.Epochs, "epoch"), view.ShortDuration(time.Duration(s.Seconds*float64(time.Second))),
		s.ExamplesPerSec, s.Backend, s.ValAccuracy)
	if s.Collapsed {
		line += fmt.Sprintf("; COLLAPSED: %.0f%% of validation predictions are %q (see train.Collapse)", 100*s.PredictedShare[s.CollapsedTo], s.CollapsedTo)
	}
	return line
}

// trainProgress shows one updating line per run in a notebook (a progress bar in a terminal) and, in a
// notebook, the loss and accuracy curves under it, redrawn in place after every epoch (at most once per
// liveCurvesEvery, so that a head trained in milliseconds per epoch is not slowed down by drawing) and
// once more with the whole history when the run ends.
type trainProgress struct {
	name     string
	bar      *view.Progress
	start    time.Time
	collapse string // the last epoch's collapse warning, repeated on the step lines that follow

	live     liveOutput
	history  []train.EpochStats
	every    time.Duration
	now      func() time.Time
	lastDraw time.Time
	liveErr  error // the first error drawing the curves; training goes on without them
}

// liveOutput is where trainProgress draws the curves (a *view.Live; tests record the charts instead).
type liveOutput interface {
	Active() bool
	Update(view.Renderable) error
	Finish(view.Renderable) error
	Updates() int
}

// liveCurvesEvery is the least time between two redraws of the live training curves (a variable for
// tests).
var liveCurvesEvery = time.Second

// newLiveOutput makes the live output of a training run (replaced by tests to record what is drawn).
var newLiveOutput = func() liveOutput { return view.NewLive() }

func newTrainProgress(name string) *trainProgress {
	return &trainProgress{name: name, start: time.Now(), live: newLiveOutput(), every: liveCurvesEvery, now: time.Now}
}

func (p *trainProgress) Step(info train.StepInfo) {
	total := info.Epochs * info.Steps
	if p.bar == nil {
		p.bar = view.NewProgress(total).Title("training " + p.name).Unit("step")
	}
	msg := fmt.Sprintf("epoch %d/%d  loss %.3f  acc %.3f  %.1f img/s", info.Epoch, info.Epochs, info.Loss, info.Accuracy, info.ExamplesPerSecond)
	if p.collapse != "" {
		msg += "  (epoch " + p.collapse + ")"
	}
	p.bar.Message(msg)
	p.bar.Set((info.Epoch-1)*info.Steps + info.Step)
}

func (p *trainProgress) Epoch(st train.EpochStats) {
	if p.bar != nil {
		msg := fmt.Sprintf("epoch %d: train loss %.3f acc %.3f", st.Epoch, st.TrainLoss, st.TrainAccuracy)
		if st.HasVal {
			msg += fmt.Sprintf(", validation loss %.3f acc %.3f", st.ValLoss, st.ValAccuracy)
		}
		p.collapse = ""
		if note := st.CollapseNote(); note != "" {
			msg += "  " + note
			p.collapse = fmt.Sprintf("%d %s", st.Epoch, note)
		}
		p.bar.Message(msg)
	}
	if p.live == nil || !p.live.Active() {
		return
	}
	p.history = append(p.history, st)
	if now := p.now(); p.lastDraw.IsZero() || now.Sub(p.lastDraw) >= p.every {
		p.lastDraw = now
		p.drawLive(false, p.history)
	}
}

// drawLive draws the curves of history into the live output; an error is kept (the first one) and shown
// on the progress line, never stopping the training.
func (p *trainProgress) drawLive(final bool, history []train.EpochStats) {
	if len(history) == 0 || p.liveErr != nil {
		return
	}
	chart := curvesChart(p.name, history)
	var err error
	if final {
		err = p.live.Finish(chart)
	} else {
		err = p.live.Update(chart)
	}
	if err != nil {
		p.liveErr = fmt.Errorf("live training curves of %q: %w", p.name, err)
		if p.bar != nil {
			p.bar.Message(p.liveErr.Error())
		}
	}
}

// done ends the progress line with the run's total time (res.Elapsed: decoding and compiling included,
// the time the summary records) and the validation accuracy it reached.
func (p *trainProgress) done(res *train.Result) {
	if p.bar != nil {
		msg := "done"
		if res != nil {
			msg = fmt.Sprintf("done: %s, %s in all", view.Count(len(res.History), "epoch"), view.ShortDuration(res.Elapsed))
			if res.BestEpoch > 0 && res.BestEpoch <= len(res.History) {
				if st := res.History[res.BestEpoch-1]; st.HasVal {
					msg += fmt.Sprintf(", validation accuracy %.3f", st.ValAccuracy)
					if note := st.CollapseNote(); note != "" {
						msg += "  " + note
					}
				}
			}
		}
		p.bar.Message(msg)
		p.bar.Done()
	}
	if p.live != nil && p.live.Active() && p.live.Updates() > 0 {
		history := p.history
		if res != nil && len(res.History) > 0 {
			history = res.History // a resumed run's history includes the epochs before the interruption
		}
		p.drawLive(true, history)
	}
}

// drawn returns the live output when the curves were drawn into it, else nil.
func (p *trainProgress) drawn() liveOutput {
	if p.live == nil || !p.live.Active() || p.live.Updates() == 0 {
		return nil
	}
	return p.live
}

// LRFinding is the outcome of TrainBuilder.LRFind: the learning-rate range test's series and suggestion.
type LRFinding struct {
	// Model is the name the run was configured under (no model is saved under it).
	Model string `json:"model"`
	// Cached is set when the sweep was read back from an earlier identical call (same settings, same dataset
	// version, same options and backend): re-running a notebook cell does not sweep again.
	Cached bool `json:"cached,omitempty"`
	train.LRFindResult
}

// LRFind runs fastai's learning-rate range test (lr_find) with the run as configured so far (kind,
// dataset, size, batch, optimizer...): from fresh weights, one mini-batch per step with the learning rate
// rising exponentially from 1e-7 to 10 over 100 steps (train.DefaultLRFind), stopping when the smoothed
// loss passes 4x its minimum, and suggests a learning rate (fastai's "valley"). No model is saved: the
// model's folder and record are neither created nor changed, and the weights are dropped afterwards. The
// sweep itself is recorded in the app's cache, so the same call again (same settings, dataset version,
// options and backend: a re-run notebook cell) returns it at once (Cached). Pass the suggestion to LR
// before Run; Show plots the loss against the learning rate.
func (b *TrainBuilder) LRFind() (*LRFinding, error) { return b.LRFindWith(train.DefaultLRFind()) }

// LRFindWith is LRFind with other range-test options (zero fields: the defaults), e.g. fewer steps:
//
//	f, err := app.Train("m").OnDataset("animals").Deep("resnet50").Size(32).
//		LRFindWith(train.LRFindOptions{StartLR: 1e-5, Steps: 30})
func (b *TrainBuilder) LRFindWith(o train.LRFindOptions) (*LRFinding, error) {
	p, err := b.plan(nil)
	if err != nil {
		return nil, err
	}
	var be backends.Backend
	if b.backend != "" {
		if be, err = backend.Named(b.backend); err != nil {
			return nil, fmt.Errorf("mlkit: lr_find %q: %w", b.name, err)
		}
	}
	run, planned := p.configure(be)
	cache, err := lrFindCachePath(b.app.Dir(), p, planned, o, b.backend)
	if err != nil {
		return nil, fmt.Errorf("mlkit: lr_find %q: %w", b.name, err)
	}
	if raw, err := os.ReadFile(cache); err == nil {
		f := &LRFinding{}
		if json.Unmarshal(raw, f) == nil && len(f.LRs) > 0 {
			f.Model, f.Cached = b.name, true
			return f, nil
		}
	}
	res, err := run.LRFind(o)
	if err != nil {
		return nil, fmt.Errorf("mlkit: lr_find %q: %w", b.name, err)
	}
	f := &LRFinding{Model: b.name, LRFindResult: *res}
	if err := atomicfile.WriteJSON(cache, f); err != nil {
		return nil, fmt.Errorf("mlkit: lr_find %q: recording the sweep: %w", b.name, err)
	}
	return f, nil
}

// lrFindCachePath is where the sweep of this run's settings on this dataset version is recorded: the
// app's cache/lrfind/<sha256 of the kind, family, embedder, planned config, version, options, backend>.json.
func lrFindCachePath(appDir string, p *runPlan, planned train.RunConfig, o train.LRFindOptions, backendName string) (string, error) {
	key, err := json.Marshal(struct {
		Kind, Family, Embedder string
		Config                 json.RawMessage
		Planned                train.RunConfig
		Dataset                string
		Version                int
		Options                train.LRFindOptions
		Backend                string
	}{p.rec.Kind, p.rec.Family, p.rec.Embedder, p.rec.Config, planned, p.version.Dataset, p.version.Number, o, backendName})
	if err != nil {
		return "", fmt.Errorf("encoding the sweep's key: %w", err)
	}
	sum := sha256.Sum256(key)
	return filepath.Join(appDir, "cache", "lrfind", hex.EncodeToString(sum[:])+".json"), nil
}

// String is a one-line description: the suggestion, the steep point and how the sweep went.
func (f *LRFinding) String() string {
	last := f.LRs[len(f.LRs)-1]
	return fmt.Sprintf("lr_find %s: suggested learning rate %.2g (valley; steepest descent at %.2g), %d steps from %.2g to %.2g on %s, stopped: %s",
		f.Model, f.Suggestion, f.Steep, len(f.LRs), f.LRs[0], last, f.Backend, f.Stopped)
}

// Show prints the suggestion and plots the smoothed training loss against log10 of the learning rate,
// the suggestion marked (as fastai, without the last 5 steps, where the loss shoots up).
func (f *LRFinding) Show() error {
	fmt.Println(f.String())
	_, err := view.Show(f.Chart())
	return err
}

// Chart is the loss-against-learning-rate line chart Show displays (x: log10 of the learning rate).
func (f *LRFinding) Chart() *view.LineChart {
	n := len(f.LRs)
	if n > 10 {
		n -= 5
	}
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Log10(f.LRs[i])
	}
	c := view.Line().Title(fmt.Sprintf("lr_find %s: suggested LR %.2g", f.Model, f.Suggestion)).
		XLabel("learning rate (log10: -3 is 1e-3)").YLabel("smoothed training loss").Size(560, 340).
		Series("loss", x, f.Losses[:n])
	for i, lr := range f.LRs {
		if lr == f.Suggestion {
			c.Series("suggestion (valley)", []float64{math.Log10(lr)}, []float64{f.Losses[i]})
			break
		}
	}
	return c
}

package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
)

// Planned returns the RunConfig that Fit would save as config.json for these options and data (Backend
// left empty; Fit uses it), without validating or training: compare it with a saved run using Inspect.
func (h *HeadBuilder) Planned() RunConfig {
	cfg := h.cfg
	cfg.Settings = h.opts.Settings
	cfg.Classes = append([]string(nil), h.classes...)
	if len(h.train) > 0 {
		cfg.EmbeddingDim = len(h.train[0].Vector)
	}
	cfg.NumTrain, cfg.NumVal = len(h.train), len(h.val)
	cfg.BatchSize = cappedBatch(cfg.BatchSize, cfg.NumTrain)
	cfg.Backend = ""
	return cfg
}

// Planned returns the RunConfig that Fit would save as config.json for these options and data (Backend
// left empty), without validating, decoding images or training: compare it with a saved run using Inspect.
func (d *DeepBuilder) Planned() RunConfig {
	cfg := d.cfg
	cfg.Settings = d.opts.Settings
	cfg.Classes = append([]string(nil), d.classes...)
	cfg.Model.NumClasses = len(d.classes)
	cfg.Model.InputSize = cfg.InputSize
	cfg.NumTrain, cfg.NumVal = len(d.train), len(d.val)
	cfg.BatchSize = cappedBatch(cfg.BatchSize, cfg.NumTrain)
	cfg.Backend = ""
	return cfg
}

// cappedBatch is the batch size the engine uses: at most the training-set size (see engine.setup).
func cappedBatch(batch, n int) int {
	if batch > n && n > 0 {
		return n
	}
	return batch
}

// EpochsForSteps returns how many epochs of n examples at batchSize (capped at n, as a run does) make
// at least steps optimiser steps: a budget in steps trains a small set as long as a large one, where a
// fixed number of epochs leaves a small set under-trained (one step per epoch below one batch).
func EpochsForSteps(n, batchSize, steps int) int {
	b := cappedBatch(batchSize, n)
	if n <= 0 || b <= 0 || steps <= 0 {
		return 1
	}
	per := max(n/b, 1)
	return max((steps+per-1)/per, 1)
}

// RunState is what an output directory holds, compared with a planned run (see Inspect).
type RunState struct {
	// Exists is true when the directory holds a run (its config.json).
	Exists bool
	// Differences lists, one "setting: saved → planned" per entry, where the saved run's configuration
	// differs from the planned one (the backend aside); empty when it is the same run.
	Differences []string
	// Finished is true when the saved run trained to its end (early stopping included).
	Finished bool
	// Epochs is the number of epochs the saved history holds.
	Epochs int
}

// Same reports whether the directory holds the planned run (finished or not).
func (s RunState) Same() bool { return s.Exists && len(s.Differences) == 0 }

// Inspect reads the run saved in dir (config.json and history.json) and compares it with planned, e.g.
// HeadBuilder.Planned. A directory without config.json is no run (Exists false), not an error.
func Inspect(dir string, planned RunConfig) (RunState, error) {
	var st RunState
	var saved RunConfig
	err := readJSON(filepath.Join(dir, ConfigFile), &saved)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("inspecting the run in %s: %w", dir, err)
	}
	st.Exists = true
	if st.Differences, err = configDiff(&saved, &planned); err != nil {
		return st, fmt.Errorf("inspecting the run in %s: %w", dir, err)
	}
	var hist history
	if err := readJSON(filepath.Join(dir, HistoryFile), &hist); err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("inspecting the run in %s: %w", dir, err)
	}
	st.Finished, st.Epochs = hist.Finished, len(hist.Epochs)
	return st, nil
}

// configDiff lists the settings in which two configurations differ, backend aside, by JSON name
// ("optimizer.lr: 0.001 → 0.01"), sorted.
func configDiff(saved, planned *RunConfig) ([]string, error) {
	var a, b map[string]any
	for _, c := range []struct {
		what string
		cfg  *RunConfig
		into *map[string]any
	}{{"saved", saved, &a}, {"planned", planned, &b}} {
		fp, err := c.cfg.fingerprint()
		if err != nil {
			return nil, fmt.Errorf("the %s run: %w", c.what, err)
		}
		if err := json.Unmarshal([]byte(fp), c.into); err != nil {
			return nil, fmt.Errorf("the %s run: decoding its configuration: %w", c.what, err)
		}
	}
	var out []string
	diffMaps("", a, b, &out)
	sort.Strings(out)
	return out, nil
}

func diffMaps(prefix string, a, b map[string]any, out *[]string) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		va, vb := a[k], b[k]
		if reflect.DeepEqual(va, vb) {
			continue
		}
		ma, okA := va.(map[string]any)
		mb, okB := vb.(map[string]any)
		if okA && okB {
			diffMaps(prefix+k+".", ma, mb, out)
			continue
		}
		*out = append(*out, fmt.Sprintf("%s%s: %s → %s", prefix, k, jsonText(va), jsonText(vb)))
	}
}

func jsonText(v any) string {
	if v == nil {
		return "unset"
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// SavedResult reads a finished run back from its output directory without building or compiling the
// model: classes, history, best epoch, backend. Its Predictor is nil (Load builds one) and Elapsed zero.
func SavedResult(dir string) (*Result, error) {
	var cfg RunConfig
	if err := readJSON(filepath.Join(dir, ConfigFile), &cfg); err != nil {
		return nil, fmt.Errorf("reading the run in %s: %w", dir, err)
	}
	var hist history
	if err := readJSON(filepath.Join(dir, HistoryFile), &hist); err != nil {
		return nil, fmt.Errorf("reading the run in %s: %w", dir, err)
	}
	if !hist.Finished {
		return nil, fmt.Errorf("the run in %s is not finished (%d of %d epochs)", dir, len(hist.Epochs), cfg.Epochs)
	}
	res := &Result{Classes: cfg.Classes, History: hist.Epochs, BestEpoch: hist.BestEpoch, StoppedEarly: hist.StoppedEarly,
		Backend: cfg.Backend, Dir: dir}
	if res.BestEpoch == 0 {
		res.BestEpoch = len(hist.Epochs)
	}
	if res.BestEpoch > 0 && res.BestEpoch <= len(hist.Epochs) {
		res.FinalTrainLoss = hist.Epochs[res.BestEpoch-1].TrainLoss
	}
	if cfg.Kind == KindFineTune { // the frozen phase's epochs first, as FineTuneBuilder.Fit returns them
		var frozen history
		if err := readJSON(filepath.Join(dir, FrozenDir, HistoryFile), &frozen); err != nil {
			return nil, fmt.Errorf("reading the frozen phase of the run in %s: %w", dir, err)
		}
		res = joinPhases(frozen.Epochs, res)
	}
	return res, nil
}

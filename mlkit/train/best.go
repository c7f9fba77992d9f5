package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"
)

// bestTracker follows the monitored loss (validation loss, else training loss) for early stopping and keeps
// the best epoch's model weights when they are to be restored.
type bestTracker struct {
	restore   bool
	epoch     int
	loss      float64
	sinceBest int
	weights   map[string]*tensors.Tensor // ParameterName -> value, in memory.
}

// observe records an epoch and says whether it improved on the best so far.
func (b *bestTracker) observe(st EpochStats) bool {
	loss := st.TrainLoss
	if st.HasVal {
		loss = st.ValLoss
	}
	if b.epoch == 0 || loss < b.loss {
		b.epoch, b.loss, b.sinceBest = st.Epoch, loss, 0
		b.weights = nil // A snapshot of an older epoch is stale now.
		return true
	}
	b.sinceBest++
	return false
}

func isModelVar(v *context.Variable) bool {
	return v.Scope() == "/"+modelScope || strings.HasPrefix(v.Scope(), "/"+modelScope+"/")
}

// snapshot copies the model's variables in memory and, when dir is set, into dir/best.
func (b *bestTracker) snapshot(ctx *context.Context, dir string) error {
	b.weights = make(map[string]*tensors.Tensor)
	var bestCtx *context.Context
	if dir != "" {
		bestCtx = context.New()
	}
	for v := range ctx.IterVariables() {
		if !isModelVar(v) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return fmt.Errorf("reading %s for the best-epoch snapshot: %w", v.ScopeAndName(), err)
		}
		c, err := val.Clone()
		if err != nil {
			return fmt.Errorf("copying %s for the best-epoch snapshot: %w", v.ScopeAndName(), err)
		}
		b.weights[v.ParameterName()] = c
		if bestCtx != nil {
			bestCtx.InAbsPath(v.Scope()).VariableWithValue(v.Name(), c)
		}
	}
	if bestCtx == nil {
		return nil
	}
	bestDir := filepath.Join(dir, BestDir)
	if err := os.RemoveAll(bestDir); err != nil {
		return fmt.Errorf("clearing %s: %w", bestDir, err)
	}
	h, err := checkpoints.Build(bestCtx).Dir(bestDir).Keep(1).ExcludeAllParams().Done()
	if err != nil {
		return fmt.Errorf("creating %s: %w", bestDir, err)
	}
	if err := h.Save(); err != nil {
		return fmt.Errorf("saving the best epoch's weights in %s: %w", bestDir, err)
	}
	return nil
}

// restoreInto sets ctx's model variables to the best epoch's weights (from memory, else from dir/best).
func (b *bestTracker) restoreInto(ctx *context.Context, dir string) error {
	weights := b.weights
	if weights == nil {
		if dir == "" {
			return fmt.Errorf("best epoch %d's weights are not available", b.epoch)
		}
		var err error
		weights, err = loadVariables(filepath.Join(dir, BestDir))
		if err != nil {
			return fmt.Errorf("restoring best epoch %d: %w", b.epoch, err)
		}
	}
	for v := range ctx.IterVariables() {
		if !isModelVar(v) {
			continue
		}
		w, ok := weights[v.ParameterName()]
		if !ok {
			return fmt.Errorf("best-epoch weights lack variable %s", v.ScopeAndName())
		}
		c, err := w.Clone()
		if err != nil {
			return fmt.Errorf("copying best-epoch %s: %w", v.ScopeAndName(), err)
		}
		if err := v.SetValue(c); err != nil {
			return fmt.Errorf("restoring best-epoch %s: %w", v.ScopeAndName(), err)
		}
	}
	return nil
}

// loadVariables reads the latest checkpoint in dir into a map ParameterName -> value.
func loadVariables(dir string) (map[string]*tensors.Tensor, error) {
	ctx := context.New()
	if _, err := checkpoints.Load(ctx).Dir(dir).Immediate().Done(); err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	out := make(map[string]*tensors.Tensor)
	for v := range ctx.IterVariables() {
		val, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("reading %s from %s: %w", v.ScopeAndName(), dir, err)
		}
		out[v.ParameterName()] = val
	}
	return out, nil
}

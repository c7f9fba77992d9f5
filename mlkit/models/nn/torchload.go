package nn

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/weights/safetensors"
)

// TorchSource is a PyTorch state dict to load from, e.g. a *safetensors.File or *safetensors.Set of
// mlkit/weights/safetensors adapted with a closure: Names lists the keys, Float32s returns one tensor's
// values (row-major, PyTorch layout) and PyTorch dimensions.
type TorchSource interface {
	Names() []string
	Float32s(name string) (values []float32, dims []int, err error)
}

// TorchSourceFunc adapts a names list and a reading function to TorchSource.
type TorchSourceFunc struct {
	// Keys are the state-dict keys.
	Keys []string
	// Read returns the values and dimensions of one key.
	Read func(name string) ([]float32, []int, error)
}

// Names implements TorchSource.
func (s TorchSourceFunc) Names() []string { return s.Keys }

// Float32s implements TorchSource.
func (s TorchSourceFunc) Float32s(name string) ([]float32, []int, error) { return s.Read(name) }

// LoadTorch sets every model variable already declared in ctx (names starting with "#", like the RNG
// state, are skipped) from the state-dict tensor named TorchName(scope, name), converting the layout
// (FromTorch). It is strict: a variable without a tensor, a shape mismatch, or a tensor that no
// variable uses (other than BN's num_batches_tracked) is an error, listing the first few offenders.
// Declare the variables first by building the model once (Declare),
// then build executors with ctx.Reuse().
func LoadTorch(ctx *context.Context, src TorchSource) error {
	available := make(map[string]bool)
	for _, n := range src.Names() {
		available[n] = true
	}
	used := make(map[string]bool)
	var errs []string
	count := 0
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Name(), "#") {
			continue
		}
		count++
		key := TorchName(v.Scope(), v.Name())
		if !available[key] {
			errs = append(errs, fmt.Sprintf("no tensor %q for variable %s/%s %s", key, v.Scope(), v.Name(), v.Shape()))
			continue
		}
		used[key] = true
		vals, dims, err := src.Float32s(key)
		if err != nil {
			errs = append(errs, fmt.Sprintf("reading %q: %v", key, err))
			continue
		}
		t, err := FromTorch(v, dims, vals)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if err := v.SetValue(t); err != nil {
			errs = append(errs, fmt.Sprintf("setting %q: %v", key, err))
		}
	}
	if count == 0 {
		return fmt.Errorf("nn.LoadTorch: context has no variables; build (declare) the model before loading")
	}
	var unused []string
	for n := range available {
		if !used[n] && !strings.HasSuffix(n, "num_batches_tracked") {
			unused = append(unused, n)
		}
	}
	sort.Strings(unused)
	for _, n := range unused {
		errs = append(errs, fmt.Sprintf("tensor %q matches no variable", n))
	}
	if len(errs) > 0 {
		total := len(errs)
		if total > 8 {
			errs = append(errs[:8], "...")
		}
		return fmt.Errorf("nn.LoadTorch: %d problem(s): %s", total, strings.Join(errs, "; "))
	}
	return nil
}

// LoadTorchSafetensors loads a PyTorch state dict saved as safetensors (e.g. with
// safetensors.torch.save_file(model.state_dict(), path)), one file or a sharded folder, into the
// variables declared in ctx (see LoadTorch and Declare).
func LoadTorchSafetensors(ctx *context.Context, path string) error {
	return LoadTorchSafetensorsExcept(ctx, path, nil)
}

// LoadTorchSafetensorsExcept is LoadTorchSafetensors with the state-dict keys for which skip returns true
// left out (nil: none), e.g. an ImageNet classifier ("fc.", "classifier.") when loading a backbone.
func LoadTorchSafetensorsExcept(ctx *context.Context, path string, skip func(key string) bool) error {
	var set interface {
		Names() []string
		Float32s(name string) ([]float32, safetensors.Info, error)
		Close() error
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("nn.LoadTorchSafetensors: %w", err)
	}
	if st.IsDir() {
		set, err = safetensors.OpenDir(path)
	} else {
		set, err = safetensors.Open(path)
	}
	if err != nil {
		return fmt.Errorf("nn.LoadTorchSafetensors: opening %s: %w", path, err)
	}
	defer func() { _ = set.Close() }()
	keys := set.Names()
	if skip != nil {
		keys = slices.DeleteFunc(keys, skip)
	}
	src := TorchSourceFunc{Keys: keys, Read: func(name string) ([]float32, []int, error) {
		v, info, err := set.Float32s(name)
		return v, info.Shape, err
	}}
	if err := LoadTorch(ctx, src); err != nil {
		return fmt.Errorf("loading %s: %w", path, err)
	}
	return nil
}

// Declare creates the variables of a model (without values) in ctx by building it, for a 1-image batch
// at cfg.InputSize (224 when unset), on a throwaway graph that is never compiled. Load weights next
// (LoadTorch, LoadTorchSafetensors), then build executors with ctx.Reuse().
func Declare(backend backends.Backend, ctx *context.Context, build models.BuildFunc, cfg models.Config) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("nn.Declare: building the model: %v", r)
		}
	}()
	size := cfg.InputSize
	if size <= 0 {
		size = 224
	}
	g := NewGraph(backend, "declare")
	build(ctx, Parameter(g, "images", shapes.Make(dtypes.Float32, 1, size, size, 3)), cfg)
	return nil
}

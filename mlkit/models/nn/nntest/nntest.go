// Package nntest checks GoMLX models against PyTorch references without shipping weights: both sides
// fill every state-dict tensor and every test input from the same integer hash (see Uniform and the
// generator scripts in mlkit/models/*/testdata/gen_reference.py), and the reference JSON holds only
// the state-dict names and shapes plus PyTorch's outputs.
package nntest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/models/nn"
)

// Reference is a generator script's JSON: the model, its PyTorch parameter count, the state-dict
// tensors (num_batches_tracked dropped) in order, and PyTorch's outputs for deterministic inputs.
type Reference struct {
	Model         string         `json:"model"`
	Torch         string         `json:"torch"`
	Torchvision   string         `json:"torchvision"`
	NumParameters int            `json:"num_parameters"`
	Params        []Param        `json:"params"`
	Outputs       []Output       `json:"outputs"`
	Extra         map[string]any `json:"extra,omitempty"`
}

// Param is one state-dict tensor: its key and PyTorch shape. Its index in Reference.Params is the k
// of the hash formula.
type Param struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// Output is PyTorch's eval-mode result for the deterministic input number InputIndex of shape
// [Batch, Size, Size, 3] (channels last): the logits and the pooled features before the head.
type Output struct {
	InputIndex int         `json:"input_index"`
	Batch      int         `json:"batch"`
	Size       int         `json:"size"`
	Logits     [][]float64 `json:"logits"`
	Features   [][]float64 `json:"features"`
}

// LoadReference reads a reference JSON file.
func LoadReference(path string) (*Reference, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nntest: reading reference: %w", err)
	}
	ref := &Reference{}
	if err := json.Unmarshal(data, ref); err != nil {
		return nil, fmt.Errorf("nntest: parsing reference %s: %w", path, err)
	}
	if len(ref.Params) == 0 || len(ref.Outputs) == 0 {
		return nil, fmt.Errorf("nntest: reference %s has no params or no outputs", path)
	}
	return ref, nil
}

func fmix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// Uniform returns n deterministic values in [-1, 1) for stream k: element i is
// (fmix32(uint32(i*0x9E3779B1 + k*0x7F4A7C15)) >> 8) / 2^23 - 1, exactly as the Python generators.
func Uniform(k, n int) []float64 {
	out := make([]float64, n)
	base := uint32(uint64(k) * 0x7F4A7C15)
	for i := range out {
		h := fmix32(uint32(i)*0x9E3779B1 + base)
		out[i] = float64(h>>8)/float64(1<<23) - 1
	}
	return out
}

// Values returns the deterministic values of the k-th state-dict tensor called name with PyTorch
// shape dims, in PyTorch's layout, by the tensor's role (see the generator scripts):
// conv/linear weight u*sqrt(3/fan_in); BN weight 1+0.2u; biases and running_mean 0.1u;
// running_var 1+0.5u.
func Values(name string, k int, dims []int) ([]float32, error) {
	n := 1
	for _, d := range dims {
		n *= d
	}
	u := Uniform(k, n)
	leaf := name[strings.LastIndex(name, ".")+1:]
	var f func(u float64) float64
	switch {
	case leaf == "running_var":
		f = func(u float64) float64 { return 1 + 0.5*u }
	case leaf == "running_mean" || leaf == "bias":
		f = func(u float64) float64 { return 0.1 * u }
	case leaf == "weight" && len(dims) == 1:
		f = func(u float64) float64 { return 1 + 0.2*u }
	case leaf == "weight":
		scale := math.Sqrt(3.0 / float64(n/dims[0]))
		f = func(u float64) float64 { return u * scale }
	default:
		return nil, fmt.Errorf("nntest: no formula for tensor %q", name)
	}
	out := make([]float32, n)
	for i, v := range u {
		out[i] = float32(f(v))
	}
	return out, nil
}

// Input returns the deterministic input number j: [batch, size, size, 3] float32, channels last,
// values in [-1, 1) from stream 1000000+j.
func Input(j, batch, size int) *tensors.Tensor {
	u := Uniform(1000000+j, batch*size*size*3)
	v := make([]float32, len(u))
	for i, x := range u {
		v[i] = float32(x)
	}
	return tensors.FromFlatDataAndDimensions(v, batch, size, size, 3)
}

// Fill sets every model variable of ctx (names starting with "#", like the RNG state, are skipped)
// to the deterministic values of the state-dict tensor it maps to (nn.TorchName), converting the
// layout (nn.FromTorch). It fails if a variable has no state-dict tensor, a shape disagrees, or a
// state-dict tensor has no variable.
func Fill(ctx *context.Context, ref *Reference) error {
	index := make(map[string]int, len(ref.Params))
	for k, p := range ref.Params {
		index[p.Name] = k
	}
	used := make(map[string]bool, len(ref.Params))
	var errs []string
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Name(), "#") {
			continue
		}
		name := nn.TorchName(v.Scope(), v.Name())
		k, ok := index[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("variable %s/%s (%s) has no state-dict tensor %q", v.Scope(), v.Name(), v.Shape(), name))
			continue
		}
		used[name] = true
		vals, err := Values(name, k, ref.Params[k].Shape)
		if err != nil {
			return err
		}
		t, err := nn.FromTorch(v, ref.Params[k].Shape, vals)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if err := v.SetValue(t); err != nil {
			return fmt.Errorf("nntest: setting %s: %w", name, err)
		}
	}
	for _, p := range ref.Params {
		if !used[p.Name] {
			errs = append(errs, fmt.Sprintf("state-dict tensor %s %v has no variable", p.Name, p.Shape))
		}
	}
	if len(errs) > 0 {
		if len(errs) > 10 {
			errs = append(errs[:10], fmt.Sprintf("... and %d more", len(errs)-10))
		}
		return fmt.Errorf("nntest: mapping %s: %s", ref.Model, strings.Join(errs, "; "))
	}
	return nil
}

// CountTrainable returns the number of scalar values in ctx's trainable variables, the equivalent of
// PyTorch's sum(p.numel() for p in model.parameters()) (buffers such as BN running statistics are not
// trainable).
func CountTrainable(ctx *context.Context) int {
	n := 0
	for v := range ctx.IterVariables() {
		if v.Trainable {
			n += v.Shape().Size()
		}
	}
	return n
}

// Compare returns the largest absolute difference between got (flat, row-major [rows, cols]) and
// want, and the largest |want| (the scale errors are judged against). It fails on a size mismatch.
func Compare(got []float32, want [][]float64) (maxAbsErr, maxAbsWant float64, err error) {
	n := 0
	for _, row := range want {
		n += len(row)
	}
	if n != len(got) {
		return 0, 0, fmt.Errorf("nntest: got %d values, reference has %d", len(got), n)
	}
	i := 0
	for _, row := range want {
		for _, w := range row {
			maxAbsErr = max(maxAbsErr, math.Abs(float64(got[i])-w))
			maxAbsWant = max(maxAbsWant, math.Abs(w))
			i++
		}
	}
	return maxAbsErr, maxAbsWant, nil
}

package nn

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TorchName returns the PyTorch state-dict key of a variable whose context scope mirrors the PyTorch
// module path: scope "/layer1/0/bn1" and name "weight" give "layer1.0.bn1.weight".
func TorchName(scope, name string) string {
	scope = strings.Trim(scope, context.ScopeSeparator)
	if scope == "" {
		return name
	}
	return strings.ReplaceAll(scope, context.ScopeSeparator, ".") + "." + name
}

// TorchLayout says how a variable's tensor is laid out relative to PyTorch's, from its rank and
// name: rank-4 "weight" is a convolution kernel ([kh,kw,in,out] here, [out,in,kh,kw] in PyTorch),
// rank-2 "weight" a linear layer ([in,out] here, [out,in] in PyTorch), anything else is identical.
// It returns the permutation that maps a PyTorch tensor's axes to this package's layout (nil: same).
func TorchLayout(name string, rank int) []int {
	if name != ParamWeight {
		return nil
	}
	switch rank {
	case 4:
		return []int{2, 3, 1, 0}
	case 2:
		return []int{1, 0}
	}
	return nil
}

// FromTorch converts a float32 tensor in PyTorch's layout (flat values plus PyTorch dims) to a tensor
// for the variable v, transposing conv and linear weights (see TorchLayout). It fails if the element
// count or the transposed shape does not match v's shape.
func FromTorch(v *context.Variable, torchDims []int, values []float32) (*tensors.Tensor, error) {
	want := v.Shape()
	n := 1
	for _, d := range torchDims {
		n *= d
	}
	if n != len(values) {
		return nil, fmt.Errorf("nn.FromTorch %s: %d values for PyTorch shape %v", TorchName(v.Scope(), v.Name()), len(values), torchDims)
	}
	perm := TorchLayout(v.Name(), len(torchDims))
	dims := torchDims
	if perm != nil {
		dims = make([]int, len(perm))
		for i, p := range perm {
			dims[i] = torchDims[p]
		}
	}
	if want.Rank() != len(dims) {
		return nil, fmt.Errorf("nn.FromTorch %s: PyTorch shape %v does not match variable shape %s", TorchName(v.Scope(), v.Name()), torchDims, want)
	}
	for i, d := range dims {
		if want.Dimensions[i] != d {
			return nil, fmt.Errorf("nn.FromTorch %s: PyTorch shape %v (transposed %v) does not match variable shape %s", TorchName(v.Scope(), v.Name()), torchDims, dims, want)
		}
	}
	out := values
	if perm != nil {
		out = make([]float32, len(values))
		// Strides of the source (PyTorch, row-major).
		srcStrides := make([]int, len(torchDims))
		s := 1
		for i := len(torchDims) - 1; i >= 0; i-- {
			srcStrides[i] = s
			s *= torchDims[i]
		}
		idx := make([]int, len(dims)) // index in destination layout
		for j := range out {
			src := 0
			for a, p := range perm {
				src += idx[a] * srcStrides[p]
			}
			out[j] = values[src]
			for a := len(dims) - 1; a >= 0; a-- {
				idx[a]++
				if idx[a] < dims[a] {
					break
				}
				idx[a] = 0
			}
		}
	}
	t := tensors.FromFlatDataAndDimensions(out, dims...)
	return t, nil
}

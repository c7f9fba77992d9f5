package nntest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// StateTensor is one float32 tensor of a PyTorch state dict, in PyTorch's layout (row-major values).
type StateTensor struct {
	// Name is the state-dict key, e.g. "conv1.weight".
	Name string
	// Shape is PyTorch's shape, e.g. [out, in, kh, kw] for a convolution kernel.
	Shape []int
	// Values are the row-major values; their count must match Shape.
	Values []float32
}

// WriteSafetensors writes tensors to path as a safetensors file (F32, metadata format "pt"), as
// safetensors.torch.save_file(state_dict) would, for tests that need a torchvision-style state dict.
func WriteSafetensors(path string, tensors []StateTensor) error {
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, t := range tensors {
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if n != len(t.Values) {
			return fmt.Errorf("nntest.WriteSafetensors: %s has %d values for shape %v", t.Name, len(t.Values), t.Shape)
		}
		raw := make([]byte, 4*n)
		for i, v := range t.Values {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		header[t.Name] = map[string]any{"dtype": "F32", "shape": t.Shape, "data_offsets": []int{len(data), len(data) + len(raw)}}
		data = append(data, raw...)
	}
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("nntest.WriteSafetensors: %w", err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("nntest.WriteSafetensors: %w", err)
	}
	return nil
}

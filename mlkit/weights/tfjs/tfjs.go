// Package tfjs reads TensorFlow.js "layers-model" files: model.json (the Keras topology plus a weights
// manifest) and its binary weight shards. It returns every weight as a named float32 tensor and the layer
// graph as a tree of Layer values, so a model family can rebuild the network in GoMLX and load the weights
// by name.
//
// Supported weight encodings: float32 and int32 (stored as-is, little-endian), and the TF.js converter's
// quantized forms: uint8 and uint16 with an affine scale/min (value = q*scale + min), and float16.
package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/visionnb/visionnb/mlkit/weights/float16"
)

// ModelFile is the conventional name of a TF.js model's topology+manifest file.
const ModelFile = "model.json"

// Tensor is one weight: its TF.js name (e.g. "Conv1/kernel"), shape and row-major float32 values.
type Tensor struct {
	// Name is the weight's name in the manifest, e.g. "block_1_expand_BN/gamma".
	Name string
	// Shape is the weight's dimensions, e.g. [3, 3, 3, 16] for a Keras Conv2D kernel.
	Shape []int
	// Data holds the values in row-major order, dequantized to float32; len(Data) = product of Shape.
	Data []float32
}

// Size returns the number of elements the shape describes.
func (t *Tensor) Size() int { return shapeSize(t.Shape) }

// Layer is one Keras layer of the topology. Container layers (Sequential, Model/Functional) hold their
// children in Layers.
type Layer struct {
	// Name is the layer's Keras name, e.g. "block_3_depthwise".
	Name string
	// ClassName is the Keras class, e.g. "Conv2D", "DepthwiseConv2D", "BatchNormalization", "Model".
	ClassName string
	// Config is the layer's raw Keras config; decode it with DecodeConfig.
	Config json.RawMessage
	// Inbound lists the names of the layers feeding this one (functional models only; empty for the
	// layers of a Sequential, whose input is the previous layer).
	Inbound []string
	// Layers holds the children of a container layer (Sequential, Model, Functional), in order.
	Layers []*Layer
}

// DecodeConfig unmarshals the layer's Keras config into v (a pointer to a struct or map).
func (l *Layer) DecodeConfig(v any) error {
	if err := json.Unmarshal(l.Config, v); err != nil {
		return fmt.Errorf("tfjs: decoding config of layer %q (%s): %w", l.Name, l.ClassName, err)
	}
	return nil
}

// Find returns the first layer named name in this layer's subtree (itself included), or nil.
func (l *Layer) Find(name string) *Layer {
	var found *Layer
	l.Walk(func(x *Layer) bool {
		if x.Name == name {
			found = x
			return false
		}
		return true
	})
	return found
}

// Walk visits this layer and its descendants depth-first, in order, until fn returns false.
func (l *Layer) Walk(fn func(*Layer) bool) bool {
	if !fn(l) {
		return false
	}
	for _, c := range l.Layers {
		if !c.Walk(fn) {
			return false
		}
	}
	return true
}

// Model is a parsed TF.js layers model.
type Model struct {
	// Format is model.json's "format" field ("layers-model"), empty in old exports.
	Format string
	// GeneratedBy and ConvertedBy are the producer strings when present.
	GeneratedBy, ConvertedBy string
	// Topology is the root layer (usually a Sequential or Model).
	Topology *Layer
	// Weights maps each manifest name to its tensor.
	Weights map[string]*Tensor
	// Order lists the weight names in manifest order.
	Order []string
}

// Weight returns the named weight, or an error that says which model lacks it.
func (m *Model) Weight(name string) (*Tensor, error) {
	if t, ok := m.Weights[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("tfjs: model has no weight %q (it has %d weights)", name, len(m.Weights))
}

// Load reads dir/model.json and its weight shards (paths in the manifest are relative to dir).
func Load(dir string) (*Model, error) {
	return LoadFile(filepath.Join(dir, ModelFile))
}

// LoadFile reads a model.json file and its weight shards, found relative to the file's folder.
func LoadFile(path string) (*Model, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tfjs: reading model file: %w", err)
	}
	dir := filepath.Dir(path)
	m, err := Parse(raw, func(p string) ([]byte, error) {
		if filepath.IsAbs(p) || strings.Contains(filepath.ToSlash(p), "../") {
			return nil, fmt.Errorf("shard path %q escapes the model folder", p)
		}
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ShardOpener returns the bytes of a weight shard given its path as written in the manifest.
type ShardOpener func(path string) ([]byte, error)

type jsonModel struct {
	Format          string          `json:"format"`
	GeneratedBy     string          `json:"generatedBy"`
	ConvertedBy     string          `json:"convertedBy"`
	ModelTopology   json.RawMessage `json:"modelTopology"`
	WeightsManifest []jsonGroup     `json:"weightsManifest"`
}

type jsonGroup struct {
	Paths   []string     `json:"paths"`
	Weights []jsonWeight `json:"weights"`
}

type jsonWeight struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	DType        string        `json:"dtype"`
	Quantization *quantization `json:"quantization"`
}

type quantization struct {
	DType         string   `json:"dtype"`
	Scale         *float64 `json:"scale"`
	Min           *float64 `json:"min"`
	OriginalDType string   `json:"original_dtype"`
}

// Parse decodes a model.json document; open supplies the shard bytes for each manifest path.
func Parse(modelJSON []byte, open ShardOpener) (*Model, error) {
	var jm jsonModel
	if err := json.Unmarshal(modelJSON, &jm); err != nil {
		return nil, fmt.Errorf("tfjs: parsing model.json: %w", err)
	}
	if jm.Format != "" && jm.Format != "layers-model" {
		return nil, fmt.Errorf("tfjs: format %q is not supported (only \"layers-model\"; graph models are not Keras layers)", jm.Format)
	}
	if len(jm.ModelTopology) == 0 {
		return nil, fmt.Errorf("tfjs: model.json has no modelTopology")
	}
	top, err := parseTopology(jm.ModelTopology)
	if err != nil {
		return nil, err
	}
	m := &Model{Format: jm.Format, GeneratedBy: jm.GeneratedBy, ConvertedBy: jm.ConvertedBy, Topology: top,
		Weights: map[string]*Tensor{}}
	for gi, grp := range jm.WeightsManifest {
		var buf []byte
		for _, p := range grp.Paths {
			b, err := open(p)
			if err != nil {
				return nil, fmt.Errorf("tfjs: weights group %d: reading shard %q: %w", gi, p, err)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, w := range grp.Weights {
			t, n, err := decodeWeight(w, buf[off:])
			if err != nil {
				return nil, fmt.Errorf("tfjs: weights group %d (shards %v), weight %q at byte %d: %w", gi, grp.Paths, w.Name, off, err)
			}
			off += n
			if _, dup := m.Weights[w.Name]; dup {
				return nil, fmt.Errorf("tfjs: weight %q appears twice in the manifest", w.Name)
			}
			m.Weights[w.Name] = t
			m.Order = append(m.Order, w.Name)
		}
		if off != len(buf) {
			return nil, fmt.Errorf("tfjs: weights group %d: shards %v hold %d bytes but the manifest describes %d", gi, grp.Paths, len(buf), off)
		}
	}
	return m, nil
}

func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// decodeWeight decodes one weight from the start of buf and returns it with the number of bytes used.
func decodeWeight(w jsonWeight, buf []byte) (*Tensor, int, error) {
	for _, d := range w.Shape {
		if d < 0 {
			return nil, 0, fmt.Errorf("negative dimension in shape %v", w.Shape)
		}
	}
	n := shapeSize(w.Shape)
	t := &Tensor{Name: w.Name, Shape: slices.Clone(w.Shape), Data: make([]float32, n)}
	need := func(bytesPer int) error {
		if len(buf) < n*bytesPer {
			return fmt.Errorf("shard data ends early: need %d bytes for shape %v, %d left", n*bytesPer, w.Shape, len(buf))
		}
		return nil
	}
	if q := w.Quantization; q != nil {
		switch q.DType {
		case "uint8", "uint16":
			if q.Scale == nil || q.Min == nil {
				return nil, 0, fmt.Errorf("%s quantization without scale/min", q.DType)
			}
			scale, minV := *q.Scale, *q.Min
			bytesPer := 1
			if q.DType == "uint16" {
				bytesPer = 2
			}
			if err := need(bytesPer); err != nil {
				return nil, 0, err
			}
			for i := range n {
				var v uint32
				if bytesPer == 1 {
					v = uint32(buf[i])
				} else {
					v = uint32(binary.LittleEndian.Uint16(buf[2*i:]))
				}
				t.Data[i] = float32(float64(v)*scale + minV)
			}
			return t, n * bytesPer, nil
		case "float16":
			if err := need(2); err != nil {
				return nil, 0, err
			}
			for i := range n {
				t.Data[i] = HalfToFloat32(binary.LittleEndian.Uint16(buf[2*i:]))
			}
			return t, 2 * n, nil
		default:
			return nil, 0, fmt.Errorf("unsupported quantization dtype %q", q.DType)
		}
	}
	switch w.DType {
	case "float32", "":
		if err := need(4); err != nil {
			return nil, 0, err
		}
		for i := range n {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		return t, 4 * n, nil
	case "int32":
		if err := need(4); err != nil {
			return nil, 0, err
		}
		for i := range n {
			t.Data[i] = float32(int32(binary.LittleEndian.Uint32(buf[4*i:])))
		}
		return t, 4 * n, nil
	case "bool":
		if err := need(1); err != nil {
			return nil, 0, err
		}
		for i := range n {
			if buf[i] != 0 {
				t.Data[i] = 1
			}
		}
		return t, n, nil
	default:
		return nil, 0, fmt.Errorf("unsupported dtype %q", w.DType)
	}
}

// HalfToFloat32 converts IEEE 754 half-precision bits to float32 (subnormals, infinities and NaN included).
func HalfToFloat32(h uint16) float32 { return float16.ToFloat32(h) }

// --- topology ---

type jsonLayer struct {
	Name          string          `json:"name"`
	ClassName     string          `json:"class_name"`
	Config        json.RawMessage `json:"config"`
	InboundNodes  json.RawMessage `json:"inbound_nodes"`
	ModelConfig   json.RawMessage `json:"model_config"`
	KerasVersion  string          `json:"keras_version"`
	BackendString string          `json:"backend"`
}

type containerConfig struct {
	Name   string      `json:"name"`
	Layers []jsonLayer `json:"layers"`
}

func parseTopology(raw json.RawMessage) (*Layer, error) {
	var jl jsonLayer
	if err := json.Unmarshal(raw, &jl); err != nil {
		return nil, fmt.Errorf("tfjs: parsing modelTopology: %w", err)
	}
	// Exports from tf.keras wrap the model as {"model_config": {...}, "training_config": ...}.
	if len(jl.ModelConfig) > 0 && jl.ClassName == "" {
		if err := json.Unmarshal(jl.ModelConfig, &jl); err != nil {
			return nil, fmt.Errorf("tfjs: parsing modelTopology.model_config: %w", err)
		}
	}
	return convertLayer(jl, "modelTopology")
}

func convertLayer(jl jsonLayer, where string) (*Layer, error) {
	l := &Layer{Name: jl.Name, ClassName: jl.ClassName, Config: jl.Config}
	if jl.ClassName == "" {
		return nil, fmt.Errorf("tfjs: %s: layer %q has no class_name", where, jl.Name)
	}
	switch jl.ClassName {
	case "Sequential", "Model", "Functional":
		var cc containerConfig
		if err := json.Unmarshal(jl.Config, &cc); err != nil {
			return nil, fmt.Errorf("tfjs: %s: container %s config: %w", where, jl.ClassName, err)
		}
		if l.Name == "" {
			l.Name = cc.Name
		}
		for i, c := range cc.Layers {
			child, err := convertLayer(c, fmt.Sprintf("%s/%s[%d]", where, l.Name, i))
			if err != nil {
				return nil, err
			}
			l.Layers = append(l.Layers, child)
		}
	}
	if l.Name == "" {
		var named struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(jl.Config, &named)
		l.Name = named.Name
	}
	inbound, err := parseInbound(jl.InboundNodes)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %s: layer %q inbound_nodes: %w", where, l.Name, err)
	}
	l.Inbound = inbound
	return l, nil
}

// parseInbound reads Keras 2 inbound_nodes: [[["name", nodeIdx, tensorIdx, {kwargs}], ...], ...].
func parseInbound(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var nodes [][][]any
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return nil, err
	}
	var names []string
	for _, node := range nodes {
		for _, in := range node {
			if len(in) == 0 {
				continue
			}
			s, ok := in[0].(string)
			if !ok {
				return nil, fmt.Errorf("inbound entry %v does not start with a layer name", in)
			}
			names = append(names, s)
		}
	}
	return names, nil
}

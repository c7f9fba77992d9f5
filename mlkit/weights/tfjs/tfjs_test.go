package tfjs

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/internal/testshared"
)

const synthJSON = `{
 "format": "layers-model", "generatedBy": "keras v2.4.0", "convertedBy": "TensorFlow.js Converter v3",
 "modelTopology": {"class_name": "Sequential", "config": {"name": "seq", "layers": [
   {"class_name": "Model", "config": {"name": "inner", "layers": [
     {"name": "input_1", "class_name": "InputLayer", "config": {"name": "input_1"}, "inbound_nodes": []},
     {"name": "conv", "class_name": "Conv2D", "config": {"name": "conv", "filters": 2}, "inbound_nodes": [[["input_1", 0, 0, {}]]]}
   ], "input_layers": [["input_1", 0, 0]], "output_layers": [["conv", 0, 0]]}},
   {"class_name": "Dense", "config": {"name": "dense", "units": 3}}
 ]}},
 "weightsManifest": [{"paths": ["a.bin", "b.bin"], "weights": [
   {"name": "f32", "shape": [2, 2], "dtype": "float32"},
   {"name": "u8", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1, "original_dtype": "float32"}},
   {"name": "u16", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 0.25, "min": 10, "original_dtype": "float32"}},
   {"name": "f16", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16", "original_dtype": "float32"}},
   {"name": "i32", "shape": [1], "dtype": "int32"}
 ]}]
}`

func synthShards() []byte {
	var b []byte
	for _, v := range []float32{1.5, -2, 3.25, 0} {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	b = append(b, 0, 2, 255)                             // u8 -> -1, 0, 126.5
	b = binary.LittleEndian.AppendUint16(b, 0)           // u16 -> 10
	b = binary.LittleEndian.AppendUint16(b, 65535)       // u16 -> 10 + 16383.75
	for _, h := range []uint16{0x3c00, 0xc000, 0x0001} { // 1, -2, smallest subnormal
		b = binary.LittleEndian.AppendUint16(b, h)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(0xffffffff)) // int32 -1
	return b
}

func writeSynth(t *testing.T, shards []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(synthJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	cut := 7 // split the data across two shards mid-weight, as the converter does.
	if err := os.WriteFile(filepath.Join(dir, "a.bin"), shards[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.bin"), shards[cut:], 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadSynthetic(t *testing.T) {
	m, err := Load(writeSynth(t, synthShards()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"f32": {1.5, -2, 3.25, 0},
		"u8":  {-1, 0, 126.5},
		"u16": {10, 10 + 65535*0.25},
		"f16": {1, -2, float32(math.Ldexp(1, -24))},
		"i32": {-1},
	}
	for name, w := range want {
		tt, err := m.Weight(name)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(tt.Data) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", name, tt.Data, w)
		}
	}
	if got := strings.Join(m.Order, ","); got != "f32,u8,u16,f16,i32" {
		t.Errorf("order = %s", got)
	}
	if m.Format != "layers-model" || m.ConvertedBy == "" {
		t.Errorf("format/convertedBy not read: %+v", m)
	}
	conv := m.Topology.Find("conv")
	if conv == nil || conv.ClassName != "Conv2D" || len(conv.Inbound) != 1 || conv.Inbound[0] != "input_1" {
		t.Fatalf("conv layer = %+v", conv)
	}
	var cfg struct{ Filters int }
	if err := conv.DecodeConfig(&cfg); err != nil || cfg.Filters != 2 {
		t.Errorf("DecodeConfig: %v, filters=%d", err, cfg.Filters)
	}
	if d := m.Topology.Find("dense"); d == nil || d.ClassName != "Dense" {
		t.Errorf("dense layer (name only in config) not found: %+v", d)
	}
	if _, err := m.Weight("nope"); err == nil {
		t.Error("missing weight gave no error")
	}
}

func TestLoadErrors(t *testing.T) {
	full := synthShards()
	if _, err := Load(writeSynth(t, full[:len(full)-1])); err == nil || !strings.Contains(err.Error(), "ends early") {
		t.Errorf("short shard: err = %v", err)
	}
	if _, err := Load(writeSynth(t, append(full, 0))); err == nil || !strings.Contains(err.Error(), "hold") {
		t.Errorf("long shard: err = %v", err)
	}
	dir := writeSynth(t, full)
	_ = os.Remove(filepath.Join(dir, "b.bin"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "b.bin") {
		t.Errorf("missing shard: err = %v", err)
	}
	if _, err := Parse([]byte(`{"format":"graph-model","modelTopology":{}}`), nil); err == nil {
		t.Error("graph-model accepted")
	}
}

func TestHalfToFloat32(t *testing.T) {
	cases := map[uint16]float32{0x0000: 0, 0x3c00: 1, 0x3555: 0.333251953125, 0x7bff: 65504, 0x0400: float32(math.Ldexp(1, -14)), 0x03ff: float32(math.Ldexp(1023, -24))}
	for h, want := range cases {
		if got := HalfToFloat32(h); got != want {
			t.Errorf("HalfToFloat32(%#04x) = %g, want %g", h, got, want)
		}
	}
	if !math.IsInf(float64(HalfToFloat32(0xfc00)), -1) || !math.IsNaN(float64(HalfToFloat32(0x7e00))) {
		t.Error("inf/nan conversion wrong")
	}
}

func TestLoadRealMobileNetV2(t *testing.T) {
	dir := testshared.MobileNetV2(t)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Weights) != 263 {
		t.Errorf("got %d weights, want 263 (260 MobileNetV2 + 3 head)", len(m.Weights))
	}
	k, err := m.Weight("Conv1/kernel")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(k.Shape) != "[3 3 3 16]" || len(k.Data) != 432 {
		t.Errorf("Conv1/kernel shape %v len %d", k.Shape, len(k.Data))
	}
	v, _ := m.Weight("Conv_1_bn/moving_variance")
	for i, x := range v.Data {
		if !(x > 0) {
			t.Fatalf("moving_variance[%d] = %g, want > 0 (bad decoding?)", i, x)
		}
	}
	out := m.Topology.Find("out_relu")
	if out == nil || out.ClassName != "ReLU" || len(out.Inbound) != 1 || out.Inbound[0] != "Conv_1_bn" {
		t.Fatalf("out_relu = %+v", out)
	}
	classes := map[string]int{}
	m.Topology.Find("model2").Walk(func(l *Layer) bool { classes[l.ClassName]++; return true })
	if classes["DepthwiseConv2D"] != 17 || classes["BatchNormalization"] != 52 || classes["Add"] != 10 {
		t.Errorf("layer classes = %v", classes)
	}
}

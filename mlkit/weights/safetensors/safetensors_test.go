package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type expected struct {
	Shape  []int `json:"shape"`
	Values []any `json:"values"`
}

func loadExpected(t *testing.T) map[string]expected {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]expected
	if err := json.Unmarshal(data, &exp); err != nil {
		t.Fatal(err)
	}
	return exp
}

func toFloat(t *testing.T, v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			t.Fatalf("bad expected value %q", x)
		}
		return f
	}
	t.Fatalf("bad expected value %v", v)
	return 0
}

// TestReferenceFile reads a file written by the reference Python library and compares every value.
func TestReferenceFile(t *testing.T) {
	f, err := Open(filepath.Join("testdata", "mixed.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata()["note"]; got != "mlkit fixture" {
		t.Errorf("metadata note = %q", got)
	}
	exp := loadExpected(t)
	if len(f.Names()) != len(exp) {
		t.Errorf("got %d tensors %v, want %d", len(f.Names()), f.Names(), len(exp))
	}
	for name, e := range exp {
		ti, ok := f.Info(name)
		if !ok {
			t.Errorf("tensor %q missing", name)
			continue
		}
		if len(ti.Shape) != len(e.Shape) {
			t.Errorf("%s: shape %v, want %v", name, ti.Shape, e.Shape)
			continue
		}
		for i := range e.Shape {
			if ti.Shape[i] != e.Shape[i] {
				t.Errorf("%s: shape %v, want %v", name, ti.Shape, e.Shape)
			}
		}
		if ti.DType.IsFloat() {
			got, _, err := f.Float32s(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range e.Values {
				want := toFloat(t, v)
				if float64(got[i]) != float64(float32(want)) && !(math.IsNaN(want) && math.IsNaN(float64(got[i]))) {
					t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want)
				}
			}
			if name == "f16_special" && !math.Signbit(float64(got[4])) {
				t.Errorf("f16 -0 lost its sign")
			}
		} else {
			got, _, err := f.Int64s(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range e.Values {
				if want := int64(toFloat(t, v)); got[i] != want {
					t.Errorf("%s[%d] = %d, want %d", name, i, got[i], want)
				}
			}
		}
	}
	if _, _, err := f.Int64s("f32"); err == nil {
		t.Error("reading F32 as ints should fail")
	}
	if _, _, err := f.Float32s("nope"); err == nil {
		t.Error("reading a missing tensor should fail")
	}
}

func TestSharded(t *testing.T) {
	s, err := OpenDir(filepath.Join("testdata", "sharded"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := strings.Join(s.Names(), ","); got != "layer.0.bias,layer.0.weight,layer.1.weight" {
		t.Errorf("names = %s", got)
	}
	w, ti, err := s.Float32s("layer.0.weight")
	if err != nil {
		t.Fatal(err)
	}
	if ti.Shape[0] != 2 || ti.Shape[1] != 3 || w[5] != 5 {
		t.Errorf("layer.0.weight = %v %v", ti.Shape, w)
	}
	w1, _, err := s.Float32s("layer.1.weight")
	if err != nil || w1[3] != -1.5 {
		t.Errorf("layer.1.weight = %v, %v", w1, err)
	}
}

func TestShardedIndexMismatch(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "sharded")
	for _, n := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := func(idx string) error {
		if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte(idx), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenDir(dir)
		if err == nil {
			s.Close()
		}
		return err
	}
	if err := write(`{"weight_map":{"layer.1.weight":"model-00001-of-00002.safetensors"}}`); err == nil {
		t.Error("a tensor listed in the wrong shard should fail")
	}
	if err := write(`{"weight_map":{"x":"../x.safetensors"}}`); err == nil {
		t.Error("a shard path escaping the folder should fail")
	}
	if err := write(`{"weight_map":{"missing":"model-00002-of-00002.safetensors"}}`); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a tensor missing from its shard should fail naming it, got %v", err)
	}
}

func build(header string, data []byte) []byte {
	var b bytes.Buffer
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], uint64(len(header)))
	b.Write(l[:])
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func parse(b []byte) (*File, error) { return NewReader("mem", bytes.NewReader(b), int64(len(b))) }

func TestMalformed(t *testing.T) {
	ok := build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))
	if _, err := parse(ok); err != nil {
		t.Fatalf("valid file rejected: %v", err)
	}
	cases := map[string][]byte{
		"too short":         {1, 2, 3},
		"header past end":   build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, nil)[:20],
		"huge header len":   append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 0),
		"not json":          build(`{"a":`, nil),
		"json array":        build(`[1,2]`, nil),
		"unknown dtype":     build(`{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)),
		"truncated data":    build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)),
		"size mismatch":     build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)),
		"reversed offsets":  build(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}`, make([]byte, 8)),
		"one offset":        build(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}}`, make([]byte, 8)),
		"negative dim":      build(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, make([]byte, 8)),
		"huge shape":        build(`{"a":{"dtype":"U8","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}`, nil),
		"overlap":           build(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, make([]byte, 8)),
		"bad metadata":      build(`{"__metadata__":{"x":1}}`, nil),
		"entry not object":  build(`{"a":3}`, nil),
		"negative offsets":  build(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}`, make([]byte, 8)),
		"float shape value": build(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}`, make([]byte, 8)),
	}
	for name, b := range cases {
		if _, err := parse(b); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
}

func TestFloat16(t *testing.T) {
	for _, c := range []struct {
		bits uint16
		want float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.9604645e-08}, {0x0400, 6.1035156e-05}, {0x3555, 0.33325195}} {
		if got := Float16ToFloat32(c.bits); got != c.want {
			t.Errorf("Float16ToFloat32(%#04x) = %v, want %v", c.bits, got, c.want)
		}
	}
	if !math.IsNaN(float64(Float16ToFloat32(0x7e00))) {
		t.Error("0x7e00 should be NaN")
	}
}

// FuzzParse checks that no input makes the parser or the readers panic; every tensor it accepts must be
// readable in bounds. Seed corpus: testdata/fuzz/FuzzParse plus the reference files.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"mixed.safetensors", "sharded/model-00001-of-00002.safetensors"} {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(build(`{"a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]},"__metadata__":{"k":"v"}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := parse(b)
		if err != nil {
			return
		}
		for _, n := range sf.Names() {
			ti, _ := sf.Info(n)
			if ti.DType.IsFloat() {
				v, _, err := sf.Float32s(n)
				if err != nil || len(v) != ti.NumElements() {
					t.Fatalf("%s: accepted tensor unreadable: %v (len %d, want %d)", n, err, len(v), ti.NumElements())
				}
			} else {
				v, _, err := sf.Int64s(n)
				if err != nil || len(v) != ti.NumElements() {
					t.Fatalf("%s: accepted tensor unreadable: %v", n, err)
				}
			}
		}
	})
}

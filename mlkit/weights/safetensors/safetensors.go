// Package safetensors reads tensors stored in the Hugging Face safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON header that
// maps each tensor name to its dtype, shape and byte range, then the raw little-endian data.
//
// Floating-point tensors (F32, F16, BF16, F64) are returned as float32, integer tensors (I64, I32, I16, I8,
// U8, BOOL) as int64. Sharded checkpoints (model.safetensors.index.json plus shard files) are read with
// OpenDir or OpenIndex. Every structural problem (truncated file, header too large, overlapping or
// out-of-range offsets, size/shape mismatch) is reported as an error, never a panic.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/visionnb/visionnb/mlkit/weights/float16"
)

// MaxHeaderSize bounds the JSON header (100 MB, the limit the reference implementation uses).
const MaxHeaderSize = 100 << 20

// DType is a safetensors element type name, e.g. "F32".
type DType string

// Element types of the safetensors format.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size returns the byte size of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// IsFloat reports whether the dtype is a floating-point type (read with Float32s).
func (d DType) IsFloat() bool { return d == F64 || d == F32 || d == F16 || d == BF16 }

// IsInt reports whether the dtype is an integer or boolean type (read with Int64s).
func (d DType) IsInt() bool {
	return d == I64 || d == I32 || d == I16 || d == I8 || d == U8 || d == Bool
}

// Info describes one tensor in a file: its dtype, shape and the byte range of its data, relative to the
// start of the data section (just after the header).
type Info struct {
	// Name is the tensor's key in the header, e.g. "vision_model.embeddings.class_embedding".
	Name string
	// DType is the element type.
	DType DType
	// Shape lists the dimensions; empty for a scalar.
	Shape []int
	// Begin and End are the byte offsets of the data within the data section.
	Begin, End int64
}

// NumElements returns the product of the dimensions (1 for a scalar).
func (ti Info) NumElements() int {
	n := 1
	for _, d := range ti.Shape {
		n *= d
	}
	return n
}

// File is one opened safetensors file. It keeps the file open: call Close when done.
type File struct {
	path     string
	f        io.ReaderAt
	closer   io.Closer
	dataBase int64
	infos    map[string]Info
	names    []string
	metadata map[string]string
}

type rawEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// Open opens a safetensors file and validates its header.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("safetensors: stat %s: %w", path, err)
	}
	sf, err := newFile(path, f, st.Size())
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// NewReader parses a safetensors stream of the given total size from r. name is used in error messages.
func NewReader(name string, r io.ReaderAt, size int64) (*File, error) {
	return newFile(name, r, size)
}

func newFile(path string, r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors: %s: file is %d bytes, too short for the 8-byte header length", path, size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header length: %w", path, err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: %s: header length %d exceeds the %d-byte limit (not a safetensors file?)", path, hlen, MaxHeaderSize)
	}
	if int64(hlen) > size-8 {
		return nil, fmt.Errorf("safetensors: %s: truncated: header length %d but only %d bytes follow", path, hlen, size-8)
	}
	header := make([]byte, hlen)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading %d-byte header: %w", path, hlen, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: %s: header is not a JSON object: %w", path, err)
	}
	sf := &File{path: path, f: r, dataBase: 8 + int64(hlen), infos: make(map[string]Info, len(raw))}
	dataSize := size - sf.dataBase
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &sf.metadata); err != nil {
				return nil, fmt.Errorf("safetensors: %s: __metadata__ must map strings to strings: %w", path, err)
			}
			continue
		}
		var e rawEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: malformed entry: %w", path, name, err)
		}
		ti, err := validate(name, e, dataSize)
		if err != nil {
			return nil, fmt.Errorf("safetensors: %s: %w", path, err)
		}
		sf.infos[name] = ti
		sf.names = append(sf.names, name)
	}
	sort.Strings(sf.names)
	// Tensors must not overlap (the reference requires them to tile the data section exactly; we only
	// reject overlaps, which is what could make two tensors alias each other).
	byBegin := make([]Info, 0, len(sf.infos))
	for _, ti := range sf.infos {
		byBegin = append(byBegin, ti)
	}
	sort.Slice(byBegin, func(i, j int) bool {
		if byBegin[i].Begin != byBegin[j].Begin {
			return byBegin[i].Begin < byBegin[j].Begin
		}
		return byBegin[i].Name < byBegin[j].Name
	})
	for i := 1; i < len(byBegin); i++ {
		prev, cur := byBegin[i-1], byBegin[i]
		if cur.Begin < prev.End {
			return nil, fmt.Errorf("safetensors: %s: tensors %q [%d,%d) and %q [%d,%d) overlap", path, prev.Name, prev.Begin, prev.End, cur.Name, cur.Begin, cur.End)
		}
	}
	return sf, nil
}

func validate(name string, e rawEntry, dataSize int64) (Info, error) {
	dt := DType(e.DType)
	if dt.Size() == 0 {
		return Info{}, fmt.Errorf("tensor %q: unsupported dtype %q", name, e.DType)
	}
	if len(e.DataOffsets) != 2 {
		return Info{}, fmt.Errorf("tensor %q: data_offsets must have 2 entries, got %d", name, len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin > end {
		return Info{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] are reversed", name, begin, end)
	}
	if end > uint64(dataSize) {
		return Info{}, fmt.Errorf("tensor %q: data_offsets end %d is past the %d bytes of data (truncated file?)", name, end, dataSize)
	}
	shape := make([]int, len(e.Shape))
	n := uint64(1)
	for i, d := range e.Shape {
		if d < 0 {
			return Info{}, fmt.Errorf("tensor %q: negative dimension %d in shape %v", name, d, e.Shape)
		}
		shape[i] = int(d)
		if d != 0 && n > math.MaxInt32*uint64(1<<20)/uint64(d) {
			return Info{}, fmt.Errorf("tensor %q: shape %v is too large", name, e.Shape)
		}
		n *= uint64(d)
	}
	if want := n * uint64(dt.Size()); want != end-begin {
		return Info{}, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes but data_offsets span %d", name, e.Shape, dt, want, end-begin)
	}
	return Info{Name: name, DType: dt, Shape: shape, Begin: int64(begin), End: int64(end)}, nil
}

// Path returns the file's path (or the name given to NewReader).
func (f *File) Path() string { return f.path }

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Metadata returns the free-form __metadata__ map (nil when absent).
func (f *File) Metadata() map[string]string { return f.metadata }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (Info, bool) {
	ti, ok := f.infos[name]
	return ti, ok
}

// Close closes the underlying file (a no-op for NewReader).
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Raw returns the raw little-endian bytes of the named tensor.
func (f *File) Raw(name string) ([]byte, Info, error) {
	ti, ok := f.infos[name]
	if !ok {
		return nil, Info{}, fmt.Errorf("safetensors: %s: no tensor named %q", f.path, name)
	}
	buf := make([]byte, ti.End-ti.Begin)
	if _, err := f.f.ReadAt(buf, f.dataBase+ti.Begin); err != nil {
		return nil, ti, fmt.Errorf("safetensors: %s: reading tensor %q: %w", f.path, name, err)
	}
	return buf, ti, nil
}

// Float32s reads a floating-point tensor (F32, F16, BF16 or F64) as float32 values in row-major order.
func (f *File) Float32s(name string) ([]float32, Info, error) {
	buf, ti, err := f.Raw(name)
	if err != nil {
		return nil, ti, err
	}
	out, err := DecodeFloat32s(ti.DType, buf)
	if err != nil {
		return nil, ti, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return out, ti, nil
}

// Int64s reads an integer or boolean tensor (I64, I32, I16, I8, U8, BOOL) as int64 values.
func (f *File) Int64s(name string) ([]int64, Info, error) {
	buf, ti, err := f.Raw(name)
	if err != nil {
		return nil, ti, err
	}
	out, err := DecodeInt64s(ti.DType, buf)
	if err != nil {
		return nil, ti, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return out, ti, nil
}

// DecodeFloat32s converts little-endian data of a floating-point dtype to float32.
func DecodeFloat32s(dt DType, buf []byte) ([]float32, error) {
	sz := dt.Size()
	if !dt.IsFloat() {
		return nil, fmt.Errorf("dtype %s is not floating point", dt)
	}
	if len(buf)%sz != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %s elements", len(buf), dt)
	}
	out := make([]float32, len(buf)/sz)
	switch dt {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = Float16ToFloat32(binary.LittleEndian.Uint16(buf[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(buf[2*i:])) << 16)
		}
	}
	return out, nil
}

// DecodeInt64s converts little-endian data of an integer or boolean dtype to int64.
func DecodeInt64s(dt DType, buf []byte) ([]int64, error) {
	sz := dt.Size()
	if !dt.IsInt() {
		return nil, fmt.Errorf("dtype %s is not an integer type", dt)
	}
	if len(buf)%sz != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %s elements", len(buf), dt)
	}
	out := make([]int64, len(buf)/sz)
	for i := range out {
		switch dt {
		case I64:
			out[i] = int64(binary.LittleEndian.Uint64(buf[8*i:]))
		case I32:
			out[i] = int64(int32(binary.LittleEndian.Uint32(buf[4*i:])))
		case I16:
			out[i] = int64(int16(binary.LittleEndian.Uint16(buf[2*i:])))
		case I8:
			out[i] = int64(int8(buf[i]))
		case U8:
			out[i] = int64(buf[i])
		case Bool:
			if buf[i] != 0 {
				out[i] = 1
			}
		}
	}
	return out, nil
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32, exactly (subnormals, infinities and
// NaN included).
func Float16ToFloat32(h uint16) float32 { return float16.ToFloat32(h) }

package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexFile is the name Hugging Face gives the index of a sharded checkpoint.
const IndexFile = "model.safetensors.index.json"

// SingleFile is the name Hugging Face gives an unsharded checkpoint.
const SingleFile = "model.safetensors"

// Set is a group of safetensors files read as one: a sharded checkpoint, or a single file. Each tensor
// name is owned by exactly one file.
type Set struct {
	files []*File
	owner map[string]*File
	names []string
}

// OpenDir opens the checkpoint in a Hugging Face model folder: model.safetensors.index.json when present,
// else model.safetensors.
func OpenDir(dir string) (*Set, error) {
	idx := filepath.Join(dir, IndexFile)
	if _, err := os.Stat(idx); err == nil {
		return OpenIndex(idx)
	}
	single := filepath.Join(dir, SingleFile)
	if _, err := os.Stat(single); err != nil {
		return nil, fmt.Errorf("safetensors: folder %s has neither %s nor %s", dir, IndexFile, SingleFile)
	}
	return OpenFiles(single)
}

// OpenIndex opens a sharded checkpoint from its index JSON ({"weight_map": {tensor: shard file}}); shard
// paths are relative to the index's folder. Every tensor must be found in the shard the index names.
func OpenIndex(indexPath string) (*Set, error) {
	data, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: reading index: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("safetensors: index %s is not valid JSON: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors: index %s has no weight_map entries", indexPath)
	}
	dir := filepath.Dir(indexPath)
	shardNames := map[string]bool{}
	for tensor, shard := range idx.WeightMap {
		if shard == "" || filepath.IsAbs(shard) || strings.Contains(filepath.ToSlash(shard), "..") {
			return nil, fmt.Errorf("safetensors: index %s: tensor %q maps to an invalid shard path %q", indexPath, tensor, shard)
		}
		shardNames[shard] = true
	}
	shards := make([]string, 0, len(shardNames))
	for s := range shardNames {
		shards = append(shards, s)
	}
	sort.Strings(shards)
	paths := make([]string, len(shards))
	for i, s := range shards {
		paths[i] = filepath.Join(dir, s)
	}
	set, err := OpenFiles(paths...)
	if err != nil {
		return nil, err
	}
	for tensor, shard := range idx.WeightMap {
		f, ok := set.owner[tensor]
		if !ok {
			_ = set.Close()
			return nil, fmt.Errorf("safetensors: index %s lists tensor %q in %s, but no shard has it", indexPath, tensor, shard)
		}
		if filepath.Base(f.Path()) != filepath.Base(shard) {
			_ = set.Close()
			return nil, fmt.Errorf("safetensors: index %s lists tensor %q in %s, but it is in %s", indexPath, tensor, shard, f.Path())
		}
	}
	return set, nil
}

// OpenFiles opens several safetensors files as one set; a tensor name found in two files is an error.
func OpenFiles(paths ...string) (*Set, error) {
	s := &Set{owner: map[string]*File{}}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		s.files = append(s.files, f)
		for _, n := range f.names {
			if prev, dup := s.owner[n]; dup {
				_ = s.Close()
				return nil, fmt.Errorf("safetensors: tensor %q is in both %s and %s", n, prev.Path(), p)
			}
			s.owner[n] = f
			s.names = append(s.names, n)
		}
	}
	sort.Strings(s.names)
	return s, nil
}

// Names returns all tensor names of the set, sorted.
func (s *Set) Names() []string { return append([]string(nil), s.names...) }

// Info returns the description of the named tensor.
func (s *Set) Info(name string) (Info, bool) {
	f, ok := s.owner[name]
	if !ok {
		return Info{}, false
	}
	return f.Info(name)
}

// Float32s reads a floating-point tensor as float32 (see File.Float32s).
func (s *Set) Float32s(name string) ([]float32, Info, error) {
	f, ok := s.owner[name]
	if !ok {
		return nil, Info{}, fmt.Errorf("safetensors: no tensor named %q in %d file(s)", name, len(s.files))
	}
	return f.Float32s(name)
}

// Int64s reads an integer tensor as int64 (see File.Int64s).
func (s *Set) Int64s(name string) ([]int64, Info, error) {
	f, ok := s.owner[name]
	if !ok {
		return nil, Info{}, fmt.Errorf("safetensors: no tensor named %q in %d file(s)", name, len(s.files))
	}
	return f.Int64s(name)
}

// Close closes every file of the set.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.files {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

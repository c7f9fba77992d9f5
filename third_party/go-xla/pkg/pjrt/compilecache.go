package pjrt

// This file is visionnb's addition to go-xla v0.1.4 (see ../../VISIONNB.md): a persistent cache of compiled
// executables on disk, so that a program compiled once (by any process) is loaded with
// PJRT_Executable_DeserializeAndLoad instead of being compiled again.

/*
#include <stdlib.h>
#include "pjrt_c_api.h"
#include "gen_api_calls.h"
#include "gen_new_struct.h"

// Calls the deleter of a PJRT_SerializedExecutable: cgo cannot call a C function pointer directly.
static void call_serialized_executable_deleter(PJRT_Executable_Serialize_Args* args) {
	if (args->serialized_executable_deleter != NULL && args->serialized_executable != NULL) {
		args->serialized_executable_deleter(args->serialized_executable);
	}
}
*/
import "C"

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pkg/errors"
	"k8s.io/klog/v2"
)

// cacheFormatVersion changes whenever the layout of a cache entry or the key changes.
const cacheFormatVersion = "visionnb-pjrt-cache-1"

// cacheMagic starts every cache entry; an entry without it (a truncated or foreign file) is a miss.
var cacheMagic = []byte("VNBPJRT1")

// DefaultCompilationCacheMaxBytes is the size the compilation cache is trimmed to (oldest used first).
const DefaultCompilationCacheMaxBytes = 4 << 30

var compilationCache struct {
	mu       sync.Mutex
	dir      string
	maxBytes int64
}

// CompilationCacheStats counts what the compilation cache did in this process.
type CompilationCacheStats struct {
	// Hits are programs loaded from the cache instead of compiled.
	Hits int64
	// Misses are programs compiled (and then stored) because the cache had no entry for them.
	Misses int64
	// Stored are entries written after a miss.
	Stored int64
	// Errors are entries that could not be read, loaded or written (each one fell back to compiling).
	Errors int64
}

var cacheHits, cacheMisses, cacheStored, cacheErrors atomic.Int64

// SetCompilationCacheDir makes Compile keep compiled executables in dir (created if missing) and load them from
// there when the same program is compiled again with the same options, plugin and machine, in this process or
// any later one. An empty dir disables the cache (the default). maxBytes bounds the folder's size (entries used
// least recently are removed first); maxBytes <= 0 means DefaultCompilationCacheMaxBytes.
//
// A cache entry that cannot be read or loaded is removed and the program compiled again: the cache never makes
// a compilation fail.
func SetCompilationCacheDir(dir string, maxBytes int64) {
	compilationCache.mu.Lock()
	defer compilationCache.mu.Unlock()
	compilationCache.dir = dir
	if maxBytes <= 0 {
		maxBytes = DefaultCompilationCacheMaxBytes
	}
	compilationCache.maxBytes = maxBytes
}

// CompilationCacheDir returns the folder set by SetCompilationCacheDir ("" when the cache is disabled).
func CompilationCacheDir() string {
	compilationCache.mu.Lock()
	defer compilationCache.mu.Unlock()
	return compilationCache.dir
}

// GetCompilationCacheStats returns the compilation cache's counters for this process.
func GetCompilationCacheStats() CompilationCacheStats {
	return CompilationCacheStats{
		Hits: cacheHits.Load(), Misses: cacheMisses.Load(), Stored: cacheStored.Load(), Errors: cacheErrors.Load(),
	}
}

// machineFingerprint describes the host CPU: code compiled for one CPU's features must not be loaded on another
// that shares the cache folder.
var machineFingerprint = sync.OnceValue(func() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s;", runtime.GOOS, runtime.GOARCH)
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			key, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			key = strings.TrimSpace(key)
			if key == "model name" || key == "flags" || key == "Features" || key == "CPU part" {
				b.WriteString(key)
				b.WriteString("=")
				b.WriteString(strings.TrimSpace(value))
				b.WriteString(";")
				if key == "flags" || key == "Features" {
					break // The first processor describes them all.
				}
			}
		}
	}
	return b.String()
})

// pluginFingerprint identifies the plugin binary: its path, size and modification time (a different build of the
// plugin must not load another's executables).
func pluginFingerprint(plugin *Plugin) string {
	major, minor := plugin.Version()
	fp := fmt.Sprintf("%s;%s;api=%d.%d", plugin.Name(), plugin.Path(), major, minor)
	if info, err := os.Stat(plugin.Path()); err == nil {
		fp += fmt.Sprintf(";size=%d;mtime=%d", info.Size(), info.ModTime().UnixNano())
	}
	return fp
}

// uuidPattern matches the UUIDs GoMLX puts in some variable names (its metrics' moving averages get a fresh one in
// every process), with '-' or '_' separators.
var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}`)

// canonicalProgram renames the UUIDs in a program to their order of first appearance ("uuid#0", "uuid#1", ...):
// they only name parameters, so programs that differ in them compile to the same code, and the renaming is
// one-to-one, so programs that differ otherwise keep different keys.
func canonicalProgram(program []byte) []byte {
	if !uuidPattern.Match(program) {
		return program
	}
	seen := map[string]int{}
	return uuidPattern.ReplaceAllFunc(program, func(m []byte) []byte {
		i, ok := seen[string(m)]
		if !ok {
			i = len(seen)
			seen[string(m)] = i
		}
		return []byte(fmt.Sprintf("uuid#%d", i))
	})
}

// compilationCacheKey hashes everything that determines the compiled executable.
func compilationCacheKey(cc *CompileConfig, binOptions []byte) string {
	h := sha256.New()
	write := func(parts ...string) {
		for _, p := range parts {
			fmt.Fprintf(h, "%d:", len(p))
			h.Write([]byte(p))
		}
	}
	write(cacheFormatVersion, pluginFingerprint(cc.plugin), cc.client.Platform(), cc.client.PlatformVersion(),
		machineFingerprint(), os.Getenv("XLA_FLAGS"), cc.programFormat)
	program := canonicalProgram(cc.program)
	fmt.Fprintf(h, "%d:", len(program))
	h.Write(program)
	fmt.Fprintf(h, "%d:", len(binOptions))
	h.Write(binOptions)
	return hex.EncodeToString(h.Sum(nil))
}

// compileWithCache compiles the program, or loads it from the compilation cache when it holds it.
func compileWithCache(cc *CompileConfig, binOptions []byte) (*LoadedExecutable, error) {
	compilationCache.mu.Lock()
	dir, maxBytes := compilationCache.dir, compilationCache.maxBytes
	compilationCache.mu.Unlock()
	if dir == "" {
		return pjrtClientCompile(cc.plugin, cc.client, cc.program, cc.programFormat, binOptions)
	}
	key := compilationCacheKey(cc, binOptions)

	path := filepath.Join(dir, key[:2], key+".pjrt")
	if exec, err := loadCachedExecutable(cc, path, binOptions); err == nil && exec != nil {
		cacheHits.Add(1)
		now := time.Now()
		_ = os.Chtimes(path, now, now) // Marks it as recently used, for trimming.
		return exec, nil
	} else if err != nil {
		cacheErrors.Add(1)
		klog.Warningf("pjrt compilation cache: dropping unusable entry %s: %v", path, err)
		_ = os.Remove(path)
	}
	cacheMisses.Add(1)
	exec, err := pjrtClientCompile(cc.plugin, cc.client, cc.program, cc.programFormat, binOptions)
	if err != nil {
		return nil, err
	}
	if err := storeCachedExecutable(exec, path); err != nil {
		cacheErrors.Add(1)
		klog.Warningf("pjrt compilation cache: could not store %s: %v", path, err)
	} else {
		cacheStored.Add(1)
		trimCompilationCache(dir, maxBytes)
	}
	return exec, nil
}

// loadCachedExecutable returns (nil, nil) when there is no entry, an error when the entry exists but is unusable.
func loadCachedExecutable(cc *CompileConfig, path string, binOptions []byte) (*LoadedExecutable, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(data, cacheMagic) || len(data) < len(cacheMagic)+sha256.Size {
		return nil, errors.New("not a cache entry (bad header)")
	}
	body := data[len(cacheMagic)+sha256.Size:]
	sum := sha256.Sum256(body)
	if !bytes.Equal(sum[:], data[len(cacheMagic):len(cacheMagic)+sha256.Size]) {
		return nil, errors.New("checksum mismatch (truncated or corrupt entry)")
	}
	return pjrtDeserializeAndLoad(cc.plugin, cc.client, body, binOptions)
}

// storeCachedExecutable writes the serialized executable atomically (temporary file, then rename).
func storeCachedExecutable(exec *LoadedExecutable, path string) error {
	serialized, err := exec.executable.Serialize()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // No-op after the rename.
	sum := sha256.Sum256(serialized)
	for _, part := range [][]byte{cacheMagic, sum[:], serialized} {
		if _, err := tmp.Write(part); err != nil {
			_ = tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// trimCompilationCache removes the least recently used entries until the folder holds at most maxBytes.
func trimCompilationCache(dir string, maxBytes int64) {
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var entries []entry
	var total int64
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pjrt") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		entries = append(entries, entry{path, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if total <= maxBytes {
		return
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].used.Before(entries[j].used) })
	for _, e := range entries {
		if total <= maxBytes {
			break
		}
		if os.Remove(e.path) == nil {
			total -= e.size
		}
	}
}

// Serialize returns the plugin's serialization of the compiled executable (loadable with the same plugin build
// through the compilation cache).
func (e *Executable) Serialize() ([]byte, error) {
	if e == nil || e.wrapper == nil || e.wrapper.c == nil {
		return nil, errors.New("Executable is nil or was destroyed")
	}
	plugin := e.wrapper.plugin
	args := C.new_PJRT_Executable_Serialize_Args()
	defer cFree(args)
	args.executable = e.wrapper.c
	err := toError(plugin, C.call_PJRT_Executable_Serialize(plugin.api, args))
	if err != nil {
		return nil, errors.WithMessage(err, "PJRT_Executable_Serialize")
	}
	defer C.call_serialized_executable_deleter(args)
	if args.serialized_bytes == nil || args.serialized_bytes_size == 0 {
		return nil, errors.New("PJRT_Executable_Serialize returned no bytes")
	}
	out := C.GoBytes(unsafe.Pointer(args.serialized_bytes), C.int(args.serialized_bytes_size))
	runtime.KeepAlive(e)
	return out, nil
}

// pjrtDeserializeAndLoad loads an executable serialized by Executable.Serialize.
func pjrtDeserializeAndLoad(plugin *Plugin, client *Client, serialized []byte, binOptions []byte) (*LoadedExecutable, error) {
	args := C.new_PJRT_Executable_DeserializeAndLoad_Args()
	defer cFree(args)
	args.client = client.client.c
	cSerialized := C.CBytes(serialized)
	defer C.free(cSerialized)
	args.serialized_executable = (*C.char)(cSerialized)
	args.serialized_executable_size = C.size_t(len(serialized))
	if len(binOptions) > 0 {
		cOptions := C.CBytes(binOptions)
		defer C.free(cOptions)
		args.overridden_serialized_compile_options = (*C.char)(cOptions)
		args.overridden_serialized_compile_options_size = C.size_t(len(binOptions))
	}
	err := toError(plugin, C.call_PJRT_Executable_DeserializeAndLoad(plugin.api, args))
	if err != nil {
		return nil, errors.WithMessage(err, "PJRT_Executable_DeserializeAndLoad")
	}
	return newLoadedExecutable(plugin, client, args.loaded_executable)
}

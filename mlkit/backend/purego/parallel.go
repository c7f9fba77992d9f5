package purego

import (
	"reflect"
	"sync"
)

// parallelChunks splits [0, n) into up to workers contiguous ranges of equal length (the last shorter) and
// runs fn(w, start, end) for each in its own goroutine, returning when all are done; with workers < 2 it
// runs fn(0, 0, n) on the calling goroutine.
func parallelChunks(n, workers int, fn func(w, start, end int)) {
	if workers < 2 || n < 2 {
		fn(0, 0, n)
		return
	}
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		start := w * per
		if start >= n {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, start, min(start+per, n))
		}()
	}
	wg.Wait()
}

// sameLayout reports whether struct type t has mirror's fields: the same number, types and offsets, and
// the same size. It guards the mirrors of simplego's private structs (an upgrade that changes them makes
// the fast paths stand aside instead of misreading memory).
func sameLayout(t reflect.Type, mirror any) bool {
	m := reflect.TypeOf(mirror)
	if t == nil || t.Kind() != reflect.Struct || t.NumField() != m.NumField() || t.Size() != m.Size() {
		return false
	}
	for i := range t.NumField() {
		if t.Field(i).Type != m.Field(i).Type || t.Field(i).Offset != m.Field(i).Offset {
			return false
		}
	}
	return true
}

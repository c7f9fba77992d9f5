package purego

import (
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// TestReduceSumOfBroadcastMulBecomesDot checks that the pattern GoMLX's DotGeneral gradient emits,
// ReduceSum(Mul(x[64,48,1], w[1,48,40]), 1), is computed as one DotGeneral with the right result, and
// that a plain elementwise ReduceSum(Mul) is left alone.
func TestReduceSumOfBroadcastMulBecomesDot(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	bld := be.Builder("rewrite").(*Builder)
	x, err := bld.Parameter("x", shapes.Make(dtypes.Float32, 64, 48), nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := bld.Parameter("w", shapes.Make(dtypes.Float32, 48, 40), nil)
	if err != nil {
		t.Fatal(err)
	}
	x3, _ := bld.Reshape(x, 64, 48, 1)
	w3, err := bld.BroadcastInDim(w, shapes.Make(dtypes.Float32, 64, 48, 40), []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := bld.Mul(x3, w3)
	if err != nil {
		t.Fatal(err)
	}
	y, err := bld.ReduceSum(prod, 1)
	if err != nil {
		t.Fatal(err)
	}
	if bld.dotRewrites != 1 {
		t.Fatalf("ReduceSum(Mul(broadcast)) rewrites = %d, want 1", bld.dotRewrites)
	}
	sq, _ := bld.Mul(x, x)
	if _, err := bld.ReduceSum(sq, 0); err != nil {
		t.Fatal(err)
	}
	if bld.dotRewrites != 1 {
		t.Errorf("elementwise ReduceSum(Mul(x, x)) was rewritten too (rewrites = %d)", bld.dotRewrites)
	}
	if s, _ := bld.OpShape(y); !s.Equal(shapes.Make(dtypes.Float32, 64, 40)) {
		t.Fatalf("result shape %s, want [64 40]", s)
	}
	exe, err := bld.Compile([]backends.Op{y}, nil)
	if err != nil {
		t.Fatal(err)
	}
	xs, ws := make([]float32, 64*48), make([]float32, 48*40)
	for i := range xs {
		xs[i] = float32(i%7) - 3
	}
	for i := range ws {
		ws[i] = float32(i%5) - 2
	}
	xb, err := be.BufferFromFlatData(0, xs, shapes.Make(dtypes.Float32, 64, 48))
	if err != nil {
		t.Fatal(err)
	}
	wb, err := be.BufferFromFlatData(0, ws, shapes.Make(dtypes.Float32, 48, 40))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exe.Execute([]backends.Buffer{xb, wb}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 64*40)
	if err := be.BufferToFlatData(outs[0], got); err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		for j := range 40 {
			var want float32
			for k := range 48 {
				want += xs[i*48+k] * ws[k*40+j]
			}
			if got[i*40+j] != want {
				t.Fatalf("result[%d,%d] = %g, want %g", i, j, got[i*40+j], want)
			}
		}
	}
}

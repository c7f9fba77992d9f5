package purego

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestReduceWindowAsSlicesMatchesSimplego computes float32 max, min and sum windows (MaxPool's 3x3 stride
// 2 with padding, non-square and 1-D windows, windows equal to the input) with the slice-based ReduceWindow
// and with simplego's own: max and min must be equal bit for bit, sums within float32 rounding.
func TestReduceWindowAsSlicesMatchesSimplego(t *testing.T) {
	be := newTestBackend(t)
	ref, err := simplego.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Finalize()
	type tc struct {
		dims, win, strides []int
		pad                [][2]int
	}
	cases := []tc{
		{[]int{2, 9, 9, 3}, []int{1, 3, 3, 1}, []int{1, 2, 2, 1}, [][2]int{{0, 0}, {1, 1}, {1, 1}, {0, 0}}}, // ResNet's stem pool
		{[]int{2, 8, 8, 3}, []int{1, 2, 2, 1}, nil, nil},                                                    // strides = window
		{[]int{3, 7, 5, 2}, []int{1, 3, 2, 1}, []int{1, 1, 2, 1}, [][2]int{{0, 0}, {2, 0}, {0, 1}, {0, 0}}},
		{[]int{17}, []int{4}, []int{3}, [][2]int{{1, 2}}},
		{[]int{2, 4, 4, 5}, []int{1, 4, 4, 1}, []int{1, 1, 1, 1}, nil}, // a global pool
	}
	r := rand.New(rand.NewPCG(31, 32))
	for _, red := range []backends.ReduceOpType{backends.ReduceOpMax, backends.ReduceOpMin, backends.ReduceOpSum} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%v/%v/%v/%v", red, c.dims, c.win, c.strides, c.pad), func(t *testing.T) {
				x := randomTensor(r, c.dims)
				xRef := tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](x), c.dims...) // a tensor for each backend
				f := func(x *Node) *Node {
					return BackendReduceWindow(x, red, c.win, c.strides, nil, nil, c.pad)
				}
				n := reduceWindowsSliced.Load()
				got := tensors.MustCopyFlatData[float32](MustExecOnce(be, f, x))
				if reduceWindowsSliced.Load() == n {
					t.Fatal("ReduceWindow was not built from slices")
				}
				want := tensors.MustCopyFlatData[float32](MustExecOnce(ref, f, xRef))
				if len(got) != len(want) {
					t.Fatalf("%d outputs, simplego %d", len(got), len(want))
				}
				for i := range got {
					if red == backends.ReduceOpSum {
						if math.Abs(float64(got[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("element %d: %v, simplego %v", i, got[i], want[i])
						}
					} else if got[i] != want[i] {
						t.Fatalf("element %d: %v, simplego %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

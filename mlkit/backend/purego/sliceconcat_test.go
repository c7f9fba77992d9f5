package purego

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestSliceConcatMatchesUnfused concatenates strided slices (im2col's nine 3x3 positions of a padded
// input, along the channels; along the first and a middle axis; with a stride on the last axis; mixed with
// whole operands and with a slice also used elsewhere), small and large (split over the cores), fused
// and not: the results must be equal, and the fused node must have run.
func TestSliceConcatMatchesUnfused(t *testing.T) {
	if !sliceConcatInstalled {
		t.Fatal("installSliceConcat did not find simplego's Node layout")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	be := newTestBackend(t)
	im2col := func(x *Node) *Node { // [B,H,W,C], 3x3 stride 2, padding 1
		d := x.Shape().Dimensions
		xp := Pad(x, ScalarZero(x.Graph(), x.DType()), PadAxis{}, PadAxis{Start: 1, End: 1}, PadAxis{Start: 1, End: 1})
		ho, wo := (d[1]+2-3)/2+1, (d[2]+2-3)/2+1
		var parts []*Node
		for dy := range 3 {
			for dx := range 3 {
				parts = append(parts, Slice(xp, AxisRange(), AxisRange(dy, dy+(ho-1)*2+1).Stride(2), AxisRange(dx, dx+(wo-1)*2+1).Stride(2), AxisRange()))
			}
		}
		out := Concatenate(parts, -1)
		if s := out.Shape().Dimensions; s[1] != ho || s[2] != wo {
			panic(fmt.Sprintf("im2col shape %v", s))
		}
		return out
	}
	cases := []struct {
		name string
		f    func(x *Node) *Node
	}{
		{"im2col", im2col},
		{"axis0", func(x *Node) *Node {
			return Concatenate([]*Node{Slice(x, AxisRange(1, 2)), Slice(x, AxisRange(0, 1)), x}, 0)
		}},
		{"middleAxisStrided", func(x *Node) *Node {
			return Concatenate([]*Node{Slice(x, AxisRange(), AxisRange().Stride(2), AxisRange(), AxisRange().Stride(2)),
				Slice(x, AxisRange(), AxisRange(1, 3), AxisRange(), AxisRange().Stride(2))}, 1)
		}},
		{"lastAxisStride", func(x *Node) *Node {
			return Concatenate([]*Node{Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange().Stride(2)), Neg(x)}, -1)
		}},
		{"sharedSlice", func(x *Node) *Node { // s is used twice: it stays a node of its own
			s := Slice(x, AxisRange(), AxisRange(0, 2))
			c := Concatenate([]*Node{s, Slice(x, AxisRange(), AxisRange(1, 3))}, 1)
			return Add(c, Concatenate([]*Node{s, s}, 1))
		}},
	}
	r := rand.New(rand.NewPCG(41, 42))
	for _, dims := range [][]int{{2, 5, 6, 3}, {4, 33, 31, 16}} {
		x := randomTensor(r, dims)
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s%v", c.name, dims), func(t *testing.T) {
				runs := sliceConcatRuns.Load()
				got := tensors.MustCopyFlatData[float32](MustExecOnce(be, c.f, x))
				if sliceConcatRuns.Load() == runs {
					t.Fatal("no fused slice-concatenation ran")
				}
				prev := fusionOn
				fusionOn = false
				want := tensors.MustCopyFlatData[float32](MustExecOnce(be, c.f, x))
				fusionOn = prev
				if i, ok := sameBits(got, want); !ok {
					t.Fatalf("fused and unfused differ at %d: %v vs %v", i, got[i], want[i])
				}
			})
		}
	}
}

package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/default"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// directDepthwise is the textbook loop: out[b,y,x,c*m+j] = sum_{i,k} in[b, y*s+i-top, x*s+k-left, c] * w[i,k,c,j].
func directDepthwise[T float32 | float64](in []T, b, h, w, c int, ker []T, kh, kw, m, stride int, pad [2][2]int) ([]T, [4]int) {
	hp, wp := h+pad[0][0]+pad[0][1], w+pad[1][0]+pad[1][1]
	oh, ow := (hp-kh)/stride+1, (wp-kw)/stride+1
	out := make([]T, b*oh*ow*c*m)
	for n := range b {
		for y := range oh {
			for x := range ow {
				for ch := range c {
					for j := range m {
						var s float64
						for i := range kh {
							for k := range kw {
								iy, ix := y*stride+i-pad[0][0], x*stride+k-pad[1][0]
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								s += float64(in[((n*h+iy)*w+ix)*c+ch]) * float64(ker[((i*kw+k)*c+ch)*m+j])
							}
						}
						out[((n*oh+y)*ow+x)*c*m+ch*m+j] = T(s)
					}
				}
			}
		}
	}
	return out, [4]int{b, oh, ow, c * m}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func newBackend(t *testing.T, cfg string) backends.Backend {
	t.Helper()
	b, err := backends.NewWithConfig(cfg)
	if err != nil {
		t.Skipf("backend %q unavailable: %v", cfg, err)
	}
	return b
}

type dwCase struct {
	h, w, c, k, m, stride int
	same                  bool
	pad                   [2][2]int
}

var dwCases = []dwCase{
	{h: 7, w: 6, c: 3, k: 3, m: 1, stride: 1, same: true},
	{h: 8, w: 8, c: 4, k: 3, m: 1, stride: 2, pad: [2][2]int{{0, 1}, {0, 1}}}, // MobileNetV2 strided block
	{h: 7, w: 9, c: 2, k: 3, m: 2, stride: 2, same: true},
	{h: 5, w: 5, c: 3, k: 5, m: 1, stride: 1}, // valid
	{h: 9, w: 7, c: 2, k: 5, m: 1, stride: 2, same: true},
}

func checkDepthwise(t *testing.T, backend backends.Backend, impl DepthwiseImpl) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range dwCases {
		name := fmt.Sprintf("%s/%dx%dx%d_k%d_m%d_s%d_same%v_pad%v", impl, tc.h, tc.w, tc.c, tc.k, tc.m, tc.stride, tc.same, tc.pad)
		t.Run(name, func(t *testing.T) {
			const batch = 2
			in := randSlice(r, batch*tc.h*tc.w*tc.c)
			ker := randSlice(r, tc.k*tc.k*tc.c*tc.m)
			pad := tc.pad
			if tc.same {
				pad = [2][2]int{SamePadding(tc.h, tc.k, tc.stride), SamePadding(tc.w, tc.k, tc.stride)}
			}
			want, wantDims := directDepthwise(in, batch, tc.h, tc.w, tc.c, ker, tc.k, tc.k, tc.m, tc.stride, pad)
			exec := MustNewExec(backend, func(x, k *Node) *Node {
				d := Depthwise(x, k).Strides(tc.stride).Implementation(impl)
				if tc.same {
					d.PadSame()
				} else {
					d.Padding(tc.pad)
				}
				return d.Done()
			})
			out := exec.MustExec(tensors.FromFlatDataAndDimensions(in, batch, tc.h, tc.w, tc.c),
				tensors.FromFlatDataAndDimensions(ker, tc.k, tc.k, tc.c, tc.m))[0]
			if got := out.Shape().Dimensions; fmt.Sprint(got) != fmt.Sprint(wantDims[:]) {
				t.Fatalf("shape %v, want %v", got, wantDims)
			}
			got := tensors.MustCopyFlatData[float32](out)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
					t.Fatalf("element %d: got %g, want %g", i, got[i], want[i])
				}
			}
		})
	}
}

func TestDepthwiseShiftedMatchesLoop(t *testing.T) {
	checkDepthwise(t, newBackend(t, "go"), DepthwiseShifted)
}

// TestDepthwiseGroupedMatchesLoop checks the XLA path (grouped convolution) where the XLA plugin loads.
// It never runs grouped convolution on the pure-Go backend, which would kill the test process.
func TestDepthwiseGroupedMatchesLoop(t *testing.T) {
	checkDepthwise(t, newBackend(t, "xla:cpu"), DepthwiseGrouped)
}

// directConv2D is the textbook dense convolution loop.
func directConv2D(in []float32, b, h, w, cin int, ker []float32, k, cout, stride int, pad [2][2]int) []float32 {
	hp, wp := h+pad[0][0]+pad[0][1], w+pad[1][0]+pad[1][1]
	oh, ow := (hp-k)/stride+1, (wp-k)/stride+1
	out := make([]float32, b*oh*ow*cout)
	for n := range b {
		for y := range oh {
			for x := range ow {
				for o := range cout {
					var s float64
					for i := range k {
						for j := range k {
							iy, ix := y*stride+i-pad[0][0], x*stride+j-pad[1][0]
							if iy < 0 || iy >= h || ix < 0 || ix >= w {
								continue
							}
							for c := range cin {
								s += float64(in[((n*h+iy)*w+ix)*cin+c]) * float64(ker[((i*k+j)*cin+c)*cout+o])
							}
						}
					}
					out[((n*oh+y)*ow+x)*cout+o] = float32(s)
				}
			}
		}
	}
	return out
}

func TestIm2ColConv2DMatchesLoop(t *testing.T) {
	backend := newBackend(t, "go")
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		h, w, cin, cout, k, stride int
		pad                        [2][2]int
	}{
		{8, 8, 3, 4, 3, 2, [2][2]int{{0, 1}, {0, 1}}}, // MobileNetV2 stem
		{7, 5, 2, 3, 3, 1, [2][2]int{{1, 1}, {1, 1}}},
		{6, 6, 3, 2, 1, 1, [2][2]int{}},
	} {
		in := randSlice(r, 2*tc.h*tc.w*tc.cin)
		ker := randSlice(r, tc.k*tc.k*tc.cin*tc.cout)
		want := directConv2D(in, 2, tc.h, tc.w, tc.cin, ker, tc.k, tc.cout, tc.stride, tc.pad)
		out := MustExecOnce(backend, func(x, k *Node) *Node { return Im2ColConv2D(x, k, tc.stride, tc.pad) },
			tensors.FromFlatDataAndDimensions(in, 2, tc.h, tc.w, tc.cin), tensors.FromFlatDataAndDimensions(ker, tc.k, tc.k, tc.cin, tc.cout))
		got := tensors.MustCopyFlatData[float32](out)
		if len(got) != len(want) {
			t.Fatalf("%+v: %d outputs, want %d", tc, len(got), len(want))
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
				t.Fatalf("%+v: element %d = %g, want %g", tc, i, got[i], want[i])
			}
		}
	}
}

func TestSamePadding(t *testing.T) {
	for _, c := range []struct{ in, k, s, before, after int }{
		{224, 3, 2, 0, 1}, {225, 3, 2, 1, 1}, {112, 3, 1, 1, 1}, {7, 3, 2, 1, 1}, {5, 1, 1, 0, 0},
	} {
		if got := SamePadding(c.in, c.k, c.s); got != [2]int{c.before, c.after} {
			t.Errorf("SamePadding(%d,%d,%d) = %v, want [%d %d]", c.in, c.k, c.s, got, c.before, c.after)
		}
	}
}

func TestPointwiseAndLayer(t *testing.T) {
	backend := newBackend(t, "go")
	r := rand.New(rand.NewPCG(3, 4))
	in := randSlice(r, 2*3*4*5)
	ker := randSlice(r, 5*6)
	out := MustExecOnce(backend, func(x, k *Node) *Node { return Pointwise(x, Reshape(k, 1, 1, 5, 6)) },
		tensors.FromFlatDataAndDimensions(in, 2, 3, 4, 5), tensors.FromFlatDataAndDimensions(ker, 5, 6))
	got := tensors.MustCopyFlatData[float32](out)
	for p := range 2 * 3 * 4 {
		for o := range 6 {
			var s float64
			for i := range 5 {
				s += float64(in[p*5+i]) * float64(ker[i*6+o])
			}
			if d := math.Abs(s - float64(got[p*6+o])); d > 1e-5 {
				t.Fatalf("pointwise[%d,%d] = %g, want %g", p, o, got[p*6+o], s)
			}
		}
	}

	// The context layer creates Keras-named variables with the right shapes.
	ctx := context.New()
	e := context.MustNewExec(backend, ctx, func(ctx *context.Context, x *Node) *Node {
		return DepthwiseConv2D(ctx.In("dw"), x).DepthMultiplier(2).Strides(2).PadSame().Done()
	})
	y := e.MustExec(tensors.FromFlatDataAndDimensions(in, 2, 3, 4, 5))[0]
	if fmt.Sprint(y.Shape().Dimensions) != "[2 2 2 10]" {
		t.Errorf("layer output shape %v", y.Shape().Dimensions)
	}
	if v := ctx.GetVariableByScopeAndName("/dw", "depthwise_kernel"); v == nil || fmt.Sprint(v.Shape().Dimensions) != "[3 3 5 2]" {
		t.Errorf("depthwise_kernel variable = %v", v)
	}
	if v := ctx.GetVariableByScopeAndName("/dw", "bias"); v == nil || v.Shape().Size() != 10 {
		t.Errorf("bias variable = %v", v)
	}
}

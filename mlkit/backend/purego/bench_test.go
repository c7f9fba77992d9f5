package purego_test

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/visionnb/visionnb/mlkit/backend/purego"
)

func newBackend(b *testing.B, cfg string) backends.Backend {
	b.Helper()
	be, err := backends.NewWithConfig(cfg)
	if err != nil {
		b.Fatalf("backend %q: %v", cfg, err)
	}
	return be
}

func filled(dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%17)*0.01 - 0.08
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// BenchmarkMatMul measures float32 [n,n]x[n,n] DotGeneral; reports GFLOP/s.
func BenchmarkMatMul(b *testing.B) {
	for _, cfg := range []string{"go", "mlkitgo"} {
		for _, n := range []int{256, 512, 1024} {
			b.Run(fmt.Sprintf("%s/n=%d", cfg, n), func(b *testing.B) {
				be := newBackend(b, cfg)
				e := MustNewExec(be, func(x, y *Node) *Node { return Dot(x, y) })
				x, y := filled(n, n), filled(n, n)
				e.MustExec(x, y)
				b.ResetTimer()
				for range b.N {
					e.MustExec(x, y)[0].FinalizeAll()
				}
				b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkConv3x3 measures a float32 3x3 same-padded convolution, batch 8, 32x32, 64->64 channels, forward
// only (stock simplego "go" vs the im2col lowering of "mlkitgo"); reports GFLOP/s.
func BenchmarkConv3x3(b *testing.B) {
	const batch, size, ch = 8, 32, 64
	flops := 2.0 * batch * size * size * ch * ch * 9
	for _, cfg := range convBenchConfigs {
		b.Run(cfg, func(b *testing.B) {
			be := newBackend(b, cfg)
			e := MustNewExec(be, func(x, k *Node) *Node { return Convolve(x, k).Strides(1).PadSame().Done() })
			x, k := filled(batch, size, size, ch), filled(3, 3, ch, ch)
			e.MustExec(x, k)
			b.ResetTimer()
			for range b.N {
				e.MustExec(x, k)[0].FinalizeAll()
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkDepthwise3x3 measures a float32 depthwise 3x3 convolution, batch 8, 32x32, 96 channels, forward.
// Stock simplego crashes on grouped convolutions, so only "mlkitgo" runs.
func BenchmarkDepthwise3x3(b *testing.B) {
	const batch, size, ch = 8, 32, 96
	be := newBackend(b, "mlkitgo")
	e := MustNewExec(be, func(x, k *Node) *Node {
		return Convolve(x, k).Strides(1).PadSame().ChannelGroupCount(ch).Done()
	})
	x, k := filled(batch, size, size, ch), filled(3, 3, 1, ch)
	e.MustExec(x, k)
	b.ResetTimer()
	for range b.N {
		e.MustExec(x, k)[0].FinalizeAll()
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

// convBenchConfigs are the backends BenchmarkConv3x3 compares: stock simplego, ours, and ours with
// simplego's two DotGeneral strategies forced.
var convBenchConfigs = []string{"go:ops_sequential", "mlkitgo", "mlkitgo:dotgeneral_small", "mlkitgo:dotgeneral_large"}

// sgemmShapes are the float32 products BenchmarkSgemm runs, [m,k]x[k,n]: squares, and the im2col products
// of ResNet50 training at 64 px, batch 8 (forward convolutions and a kernel gradient) and one at 224 px.
var sgemmShapes = []struct {
	name    string
	m, k, n int
}{
	{"square256", 256, 256, 256},
	{"square512", 512, 512, 512},
	{"square1024", 1024, 1024, 1024},
	{"r50_64_conv1_7x7", 8 * 32 * 32, 147, 64},
	{"r50_64_l1_3x3", 8 * 16 * 16, 576, 64},
	{"r50_64_l1_1x1_expand", 8 * 16 * 16, 64, 256},
	{"r50_64_l3_3x3", 8 * 4 * 4, 2304, 256},
	{"r50_64_l1_3x3_kernel_grad", 576, 8 * 16 * 16, 64},
	{"r50_224_l1_3x3", 8 * 56 * 56, 576, 64},
}

// BenchmarkSgemm measures float32 [m,k]x[k,n] products on mlkitgo with each block kernel this CPU runs
// (simplego's "generic", "avx2", "avx512"), in the same run; reports GFLOP/s.
//
//	go test ./mlkit/backend/purego -bench Sgemm -run XXX
func BenchmarkSgemm(b *testing.B) {
	for _, s := range sgemmShapes {
		for _, kernel := range purego.KernelsForTest() {
			b.Run(fmt.Sprintf("%s/%s", s.name, kernel), func(b *testing.B) {
				defer purego.UseKernelForTest(kernel)()
				be := newBackend(b, "mlkitgo")
				e := MustNewExec(be, func(x, y *Node) *Node { return Dot(x, y) })
				x, y := filled(s.m, s.k), filled(s.k, s.n)
				e.MustExec(x, y)[0].FinalizeAll()
				b.ResetTimer()
				for range b.N {
					e.MustExec(x, y)[0].FinalizeAll()
				}
				b.ReportMetric(2*float64(s.m*s.k*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

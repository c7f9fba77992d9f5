package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// bnLoss64 is sum(r * batchnorm(x)) + sum(batchnorm(x)^2) computed by hand in float64, x [n, c] normalised
// per column.
func bnLoss64(x, gamma, beta, r []float64, n, c int, eps float64) float64 {
	loss := 0.0
	for ch := range c {
		mean, v := 0.0, 0.0
		for i := range n {
			mean += x[i*c+ch]
		}
		mean /= float64(n)
		for i := range n {
			d := x[i*c+ch] - mean
			v += d * d
		}
		v /= float64(n)
		for i := range n {
			y := (x[i*c+ch]-mean)/math.Sqrt(v+eps)*gamma[ch] + beta[ch]
			loss += r[i*c+ch]*y + y*y
		}
	}
	return loss
}

// TestBatchNormTrainingGradient checks batchNormTraining's own gradient in float64, on every backend,
// against central finite differences of the hand-written loss, for every element of x, gamma and beta.
func TestBatchNormTrainingGradient(t *testing.T) {
	const n1, n2, c, eps = 3, 4, 5, 1e-3
	const n = n1 * n2
	rng := rand.New(rand.NewPCG(7, 8))
	vec := func(k int, scale, offset float64) []float64 {
		v := make([]float64, k)
		for i := range v {
			v[i] = offset + scale*rng.NormFloat64()
		}
		return v
	}
	x, gamma, beta, r := vec(n*c, 2, 0.5), vec(c, 0.5, 1), vec(c, 1, 0), vec(n*c, 1, 0)
	numeric := func(v []float64) []float64 {
		const h = 1e-5
		d := make([]float64, len(v))
		for i := range v {
			old := v[i]
			v[i] = old + h
			up := bnLoss64(x, gamma, beta, r, n, c, eps)
			v[i] = old - h
			down := bnLoss64(x, gamma, beta, r, n, c, eps)
			v[i] = old
			d[i] = (up - down) / (2 * h)
		}
		return d
	}
	want := [][]float64{numeric(x), numeric(gamma), numeric(beta)}
	eachGradBackend(t, func(t *testing.T, be backends.Backend) {
		exec := MustNewExec(be, func(xn, gn, bn, rn *Node) []*Node {
			y, _, _ := batchNormTraining(xn, Reshape(gn, 1, 1, c), Reshape(bn, 1, 1, c), []int{0, 1}, n, eps)
			loss := Add(ReduceAllSum(Mul(y, rn)), ReduceAllSum(Square(y)))
			return Gradient(loss, xn, gn, bn)
		})
		got := exec.MustExec(tensors.FromFlatDataAndDimensions(x, n1, n2, c), tensors.FromFlatDataAndDimensions(gamma, c),
			tensors.FromFlatDataAndDimensions(beta, c), tensors.FromFlatDataAndDimensions(r, n1, n2, c))
		for k, name := range []string{"x", "gamma", "beta"} {
			g := tensors.MustCopyFlatData[float64](got[k])
			for i := range want[k] {
				if d := math.Abs(g[i] - want[k][i]); d > 1e-5*(1+math.Abs(want[k][i])) {
					t.Fatalf("gradient for %s, element %d: got %.9g, finite differences %.9g", name, i, g[i], want[k][i])
				}
			}
		}
	})
}

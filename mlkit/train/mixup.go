package train

import (
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// maxMixup bounds mixup's alpha: beyond it Beta(alpha, alpha) is all but the constant 0.5.
const maxMixup = 100

// mixupLambda draws the blend of one training batch: lambda ~ Beta(alpha, alpha), folded to
// max(lambda, 1-lambda) as fastai does. It is a function of (seed, epoch, first example of the batch) only, so
// a resumed run blends its batches as the uninterrupted one would.
func mixupLambda(alpha float64, seed int64, epoch, first int) float64 {
	r := rand.New(rand.NewPCG(uint64(seed)^0x6D69787570, uint64(epoch)<<32|uint64(uint32(first))))
	x, y := gammaSample(r, alpha), gammaSample(r, alpha)
	lam := 0.5
	if x+y > 0 {
		lam = x / (x + y)
	}
	return math.Max(lam, 1-lam)
}

// gammaSample draws from Gamma(a, 1), a > 0 (Marsaglia and Tsang 2000; for a < 1, Gamma(a+1) * U^(1/a)).
func gammaSample(r *rand.Rand, a float64) float64 {
	if a < 1 {
		return gammaSample(r, a+1) * math.Pow(1-r.Float64(), 1/a)
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// mixGraph blends every example of a batch with the example at the mirrored position (the batch reversed):
// lam [batch] times x plus (1 - lam) times x reversed, lam broadcast over x's other axes.
func mixGraph(x, lam *Node) *Node {
	l := ConvertDType(lam, x.DType())
	if x.Rank() > 1 {
		dims := make([]int, x.Rank())
		for i := range dims {
			dims[i] = 1
		}
		dims[0] = x.Shape().Dimensions[0]
		l = Reshape(l, dims...)
	}
	return Add(Mul(l, x), Mul(OneMinus(l), Reverse(x, 0)))
}

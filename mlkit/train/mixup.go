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

// cutMixBox draws the box of one training batch of h x w images: lambda ~ Beta(alpha, alpha), a box of
// sides h·sqrt(1-lambda) and w·sqrt(1-lambda) around a uniform centre, clipped to the image (fastai's and the
// paper's sampling); lam is the share of the image outside the box after clipping, the weight of each
// example's own target. Like mixupLambda it is a function of (seed, epoch, first example) only.
func cutMixBox(alpha float64, seed int64, epoch, first, h, w int) (y0, y1, x0, x1 int, lam float64) {
	r := rand.New(rand.NewPCG(uint64(seed)^0x6375746D6978, uint64(epoch)<<32|uint64(uint32(first))))
	a, b := gammaSample(r, alpha), gammaSample(r, alpha)
	l := 0.5
	if a+b > 0 {
		l = a / (a + b)
	}
	cut := math.Sqrt(1 - l)
	ch, cw := int(float64(h)*cut), int(float64(w)*cut)
	cy, cx := r.IntN(h), r.IntN(w)
	y0, y1 = max(cy-ch/2, 0), min(cy+ch/2, h)
	x0, x1 = max(cx-cw/2, 0), min(cx+cw/2, w)
	lam = 1 - float64((y1-y0)*(x1-x0))/float64(h*w)
	return y0, y1, x0, x1, lam
}

// cutMixGraph pastes, in every example of x [batch, h, w, c], the pixels where mask [batch, h, w] is 1 from
// the example at the mirrored position (the batch reversed).
func cutMixGraph(x, mask *Node) *Node {
	d := x.Shape().Dimensions
	m := Reshape(ConvertDType(mask, x.DType()), d[0], d[1], d[2], 1)
	return Add(Mul(OneMinus(m), x), Mul(m, Reverse(x, 0)))
}

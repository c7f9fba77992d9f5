package view

import (
	"math"
	"strconv"
)

// niceNum returns a "nice" number (1, 2, 5 times a power of ten) close to x: rounded when round is
// true, else the smallest nice number >= x.
func niceNum(x float64, round bool) float64 {
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 1
	}
	exp := math.Floor(math.Log10(x))
	f := x / math.Pow(10, exp)
	var nf float64
	if round {
		switch {
		case f < 1.5:
			nf = 1
		case f < 3:
			nf = 2
		case f < 7:
			nf = 5
		default:
			nf = 10
		}
	} else {
		switch {
		case f <= 1:
			nf = 1
		case f <= 2:
			nf = 2
		case f <= 5:
			nf = 5
		default:
			nf = 10
		}
	}
	return nf * math.Pow(10, exp)
}

// axisScale is a linear mapping of a data range onto pixels, with its tick values.
type axisScale struct {
	lo, hi   float64 // data range shown
	ticks    []float64
	decimals int // decimals used to print ticks
}

// niceScale chooses a range covering [lo, hi] with about maxTicks nice ticks. When fixed is true the
// range is exactly [lo, hi] (ticks stay inside it). integer forces a tick step of at least 1.
func niceScale(lo, hi float64, maxTicks int, fixed, integer bool) axisScale {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		lo, hi = 0, 1
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi == lo {
		d := math.Abs(lo) * 0.1
		if d == 0 {
			d = 1
		}
		lo, hi = lo-d, hi+d
		if integer {
			lo, hi = math.Floor(lo), math.Ceil(hi)
		}
	}
	if maxTicks < 2 {
		maxTicks = 2
	}
	step := niceNum(niceNum(hi-lo, false)/float64(maxTicks-1), true)
	if integer && step < 1 {
		step = 1
	}
	s := axisScale{lo: lo, hi: hi}
	if !fixed {
		s.lo = math.Floor(lo/step) * step
		s.hi = math.Ceil(hi/step) * step
	}
	first := math.Ceil(s.lo/step-1e-9) * step
	for v := first; v <= s.hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		s.ticks = append(s.ticks, v)
		if len(s.ticks) > 100 {
			break
		}
	}
	s.decimals = max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	return s
}

// pos maps v onto [p0, p1] (p1 may be smaller than p0, e.g. for a y axis).
func (s axisScale) pos(v, p0, p1 float64) float64 {
	if s.hi == s.lo {
		return (p0 + p1) / 2
	}
	return p0 + (v-s.lo)/(s.hi-s.lo)*(p1-p0)
}

// label formats a tick value.
func (s axisScale) label(v float64) string {
	return strconv.FormatFloat(v, 'f', s.decimals, 64)
}

// formatValue prints a value compactly: integers without decimals, others with up to 3 significant
// decimals.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

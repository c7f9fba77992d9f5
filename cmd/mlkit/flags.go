package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
)

// Every numeric flag of the CLI is one of these bounded values: Set refuses anything outside [lo, hi]
// (and NaN or ±Inf) with an error naming the valid range, which the flag package reports as a usage
// error naming the flag. TestEveryNumericFlagIsBounded keeps it so.

// Ranges of the CLI's own numeric flags (the training ones come from package mlkit).
const (
	maxUploadBytes  = 16 << 30 // --max-bytes: 16 GiB
	maxUploadPixels = 1 << 32  // --max-pixels: about 4.3 gigapixels
	maxVersion      = math.MaxInt32
)

// integer is the integer types numeric flags hold.
type integer interface{ ~int | ~int64 }

// intFlag is an integer flag bounded to [lo, hi].
type intFlag[T integer] struct {
	p        *T
	lo, hi   T
	optional bool // unset means "the default of the library"; a given value must still be in range
	set      bool
}

func (f *intFlag[T]) String() string {
	if f == nil || f.p == nil {
		return ""
	}
	if f.optional && !f.set {
		return ""
	}
	return strconv.FormatInt(int64(*f.p), 10)
}

func (f *intFlag[T]) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil || v < int64(f.lo) || v > int64(f.hi) {
		return fmt.Errorf("want an integer from %d to %d", f.lo, f.hi)
	}
	*f.p, f.set = T(v), true
	return nil
}

// Get returns the value (flag.Getter).
func (f *intFlag[T]) Get() any { return *f.p }

func (f *intFlag[T]) inRange(v T) bool { return v >= f.lo && v <= f.hi }

// floatFlag is a float flag bounded to [lo, hi], never NaN or ±Inf.
type floatFlag struct {
	p        *float64
	lo, hi   float64
	optional bool
	set      bool
}

func (f *floatFlag) String() string {
	if f == nil || f.p == nil || (f.optional && !f.set) {
		return ""
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f *floatFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < f.lo || v > f.hi {
		return fmt.Errorf("want a number from %g to %g", f.lo, f.hi)
	}
	*f.p, f.set = v, true
	return nil
}

// Get returns the value (flag.Getter).
func (f *floatFlag) Get() any { return *f.p }

func (f *floatFlag) inRange(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= f.lo && v <= f.hi
}

// intVar defines an integer flag with default def, bounded to [lo, hi].
func intVar[T integer](fs *flag.FlagSet, p *T, name string, def, lo, hi T, usage string) {
	*p = def
	fs.Var(&intFlag[T]{p: p, lo: lo, hi: hi}, name, fmt.Sprintf("%s; `N` from %d to %d", usage, lo, hi))
}

// optIntVar defines an integer flag without a default of its own (*p stays 0 unless given: the library
// chooses), bounded to [lo, hi] when given.
func optIntVar[T integer](fs *flag.FlagSet, p *T, name string, lo, hi T, usage string) {
	*p = 0
	fs.Var(&intFlag[T]{p: p, lo: lo, hi: hi, optional: true}, name, fmt.Sprintf("%s; `N` from %d to %d", usage, lo, hi))
}

// floatVar defines a float flag with default def, bounded to [lo, hi].
func floatVar(fs *flag.FlagSet, p *float64, name string, def, lo, hi float64, usage string) {
	*p = def
	fs.Var(&floatFlag{p: p, lo: lo, hi: hi}, name, fmt.Sprintf("%s; `X` from %g to %g", usage, lo, hi))
}

// optFloatVar defines a float flag without a default of its own (*p stays 0 unless given), bounded to
// [lo, hi] when given.
func optFloatVar(fs *flag.FlagSet, p *float64, name string, lo, hi float64, usage string) {
	*p = 0
	fs.Var(&floatFlag{p: p, lo: lo, hi: hi, optional: true}, name, fmt.Sprintf("%s; `X` from %g to %g", usage, lo, hi))
}

package purego

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// chain calls builder operations and keeps the first error, so that compositions of many operations read
// as straight-line code; every method is a no-op returning nil once an error happened.
type chain struct {
	b   backends.Builder
	op  string // the operation being composed, for error messages.
	err error
}

func (c *chain) keep(op backends.Op, err error, what string) backends.Op {
	if c.err != nil {
		return nil
	}
	if err != nil {
		c.err = fmt.Errorf("%s backend: %s: %s: %w", BackendName, c.op, what, err)
		return nil
	}
	return op
}

func (c *chain) shape(x backends.Op) shapes.Shape {
	if c.err != nil {
		return shapes.Shape{}
	}
	s, err := c.b.OpShape(x)
	if err != nil {
		c.err = fmt.Errorf("%s backend: %s: reading an operand's shape: %w", BackendName, c.op, err)
	}
	return s
}

// scalar returns a scalar constant of the given dtype.
func (c *chain) scalar(dtype dtypes.DType, v float64) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := c.b.Constant([]float64{v})
	op = c.keep(op, err, "scalar constant")
	if dtype == dtypes.Float64 || c.err != nil {
		return op
	}
	op, err = c.b.ConvertDType(op, dtype)
	return c.keep(op, err, fmt.Sprintf("converting a scalar to %s", dtype))
}

// fill broadcasts a scalar op to the given shape.
func (c *chain) fill(scalar backends.Op, s shapes.Shape) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := c.b.BroadcastInDim(scalar, s, nil)
	return c.keep(op, err, fmt.Sprintf("broadcasting a scalar to %s", s))
}

// bcast broadcasts x into shape s, mapping x's axes to axes of s.
func (c *chain) bcast(x backends.Op, s shapes.Shape, axes ...int) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := c.b.BroadcastInDim(x, s, axes)
	return c.keep(op, err, fmt.Sprintf("BroadcastInDim to %s on axes %v", s, axes))
}

func (c *chain) slice(x backends.Op, starts, limits, strides []int) backends.Op {
	if c.err != nil {
		return nil
	}
	if len(strides) == 0 {
		strides = make([]int, len(starts))
		for i := range strides {
			strides[i] = 1
		}
	}
	op, err := c.b.Slice(x, starts, limits, strides)
	return c.keep(op, err, fmt.Sprintf("Slice(starts=%v, limits=%v, strides=%v)", starts, limits, strides))
}

func (c *chain) concat(axis int, xs ...backends.Op) backends.Op {
	if c.err != nil {
		return nil
	}
	if len(xs) == 1 {
		return xs[0]
	}
	op, err := c.b.Concatenate(axis, xs...)
	return c.keep(op, err, fmt.Sprintf("Concatenate(axis=%d, %d operands)", axis, len(xs)))
}

func (c *chain) reshape(x backends.Op, dims ...int) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := c.b.Reshape(x, dims...)
	return c.keep(op, err, fmt.Sprintf("Reshape(%v)", dims))
}

func (c *chain) transpose(x backends.Op, perm ...int) backends.Op {
	if c.err != nil {
		return nil
	}
	identity := true
	for i, p := range perm {
		if p != i {
			identity = false
			break
		}
	}
	if identity {
		return x
	}
	op, err := c.b.Transpose(x, perm...)
	return c.keep(op, err, fmt.Sprintf("Transpose(%v)", perm))
}

func (c *chain) binary(name string, f func(a, b backends.Op) (backends.Op, error), x, y backends.Op) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := f(x, y)
	return c.keep(op, err, name)
}

func (c *chain) add(x, y backends.Op) backends.Op { return c.binary("Add", c.b.Add, x, y) }
func (c *chain) sub(x, y backends.Op) backends.Op { return c.binary("Sub", c.b.Sub, x, y) }
func (c *chain) mul(x, y backends.Op) backends.Op { return c.binary("Mul", c.b.Mul, x, y) }
func (c *chain) div(x, y backends.Op) backends.Op { return c.binary("Div", c.b.Div, x, y) }
func (c *chain) max(x, y backends.Op) backends.Op { return c.binary("Max", c.b.Max, x, y) }
func (c *chain) min(x, y backends.Op) backends.Op { return c.binary("Min", c.b.Min, x, y) }
func (c *chain) equal(x, y backends.Op) backends.Op {
	return c.binary("Equal", c.b.Equal, x, y)
}
func (c *chain) and(x, y backends.Op) backends.Op {
	return c.binary("LogicalAnd", c.b.LogicalAnd, x, y)
}
func (c *chain) or(x, y backends.Op) backends.Op {
	return c.binary("LogicalOr", c.b.LogicalOr, x, y)
}

func (c *chain) not(x backends.Op) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := c.b.LogicalNot(x)
	return c.keep(op, err, "LogicalNot")
}

func (c *chain) rsqrt(x backends.Op) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := c.b.Rsqrt(x)
	return c.keep(op, err, "Rsqrt")
}

func (c *chain) where(cond, onTrue, onFalse backends.Op) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := c.b.Where(cond, onTrue, onFalse)
	return c.keep(op, err, "Where")
}

func (c *chain) reduceSum(x backends.Op, axes ...int) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := c.b.ReduceSum(x, axes...)
	return c.keep(op, err, fmt.Sprintf("ReduceSum(axes=%v)", axes))
}

func (c *chain) dot(lhs backends.Op, lhsContracting, lhsBatch []int, rhs backends.Op, rhsContracting, rhsBatch []int) backends.Op {
	if c.err != nil {
		return nil
	}
	op, err := c.b.DotGeneral(lhs, lhsContracting, lhsBatch, rhs, rhsContracting, rhsBatch)
	return c.keep(op, err, "DotGeneral")
}

// pad implements XLA's Pad (interior padding first, then start/end padding, negative start/end crops)
// with Reshape, Concatenate, Slice and a broadcast fill value.
func (c *chain) pad(x, fillValue backends.Op, cfg []backends.PadAxis) backends.Op {
	for axis, p := range cfg {
		if c.err != nil {
			return nil
		}
		if p.Interior < 0 {
			c.err = fmt.Errorf("%s backend: %s: negative interior padding %d on axis %d", BackendName, c.op, p.Interior, axis)
			return nil
		}
		s := c.shape(x)
		if c.err != nil {
			return nil
		}
		n := s.Dimensions[axis]
		if p.Interior > 0 && n > 1 {
			// [pre, n, post] -> [pre, n, 1, post] ++ fill[pre, n, interior, post] -> [pre, n*(1+interior), post],
			// then drop the trailing interior padding.
			dims := make([]int, 0, s.Rank()+1)
			dims = append(dims, s.Dimensions[:axis+1]...)
			dims = append(dims, 1)
			dims = append(dims, s.Dimensions[axis+1:]...)
			x = c.reshape(x, dims...)
			fillDims := append([]int(nil), dims...)
			fillDims[axis+1] = p.Interior
			x = c.concat(axis+1, x, c.fill(fillValue, shapes.Make(s.DType, fillDims...)))
			merged := append([]int(nil), s.Dimensions...)
			merged[axis] = n * (1 + p.Interior)
			x = c.reshape(x, merged...)
			x = c.sliceAxis(x, axis, 0, n+(n-1)*p.Interior)
		}
		x = c.padEdge(x, fillValue, axis, p.Start, true)
		x = c.padEdge(x, fillValue, axis, p.End, false)
	}
	return x
}

// sliceAxis slices [from, to) of one axis.
func (c *chain) sliceAxis(x backends.Op, axis, from, to int) backends.Op {
	s := c.shape(x)
	if c.err != nil {
		return nil
	}
	if from == 0 && to == s.Dimensions[axis] {
		return x
	}
	starts := make([]int, s.Rank())
	limits := append([]int(nil), s.Dimensions...)
	starts[axis], limits[axis] = from, to
	return c.slice(x, starts, limits, nil)
}

func (c *chain) padEdge(x, fillValue backends.Op, axis, amount int, atStart bool) backends.Op {
	if amount == 0 || c.err != nil {
		return x
	}
	s := c.shape(x)
	if c.err != nil {
		return nil
	}
	n := s.Dimensions[axis]
	if amount < 0 {
		if -amount > n {
			c.err = fmt.Errorf("%s backend: %s: negative padding %d larger than axis %d's size %d", BackendName, c.op, amount, axis, n)
			return nil
		}
		if atStart {
			return c.sliceAxis(x, axis, -amount, n)
		}
		return c.sliceAxis(x, axis, 0, n+amount)
	}
	fillDims := append([]int(nil), s.Dimensions...)
	fillDims[axis] = amount
	f := c.fill(fillValue, shapes.Make(s.DType, fillDims...))
	if atStart {
		return c.concat(axis, f, x)
	}
	return c.concat(axis, x, f)
}

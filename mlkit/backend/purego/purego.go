// Package purego is mlkit's pure-Go GoMLX backend, registered as "mlkitgo": GoMLX's own pure-Go backend
// ("go", package simplego) with the operations a CNN training step needs and that simplego v0.26.0 lacks or
// gets wrong, built from the operations simplego does well. It needs no cgo and no plugin.
//
// Added or replaced operations:
//   - ConvGeneral: lowered to im2col (one strided slice per kernel position, concatenated) followed by one
//     DotGeneral; grouped convolutions become a batched DotGeneral, depthwise ones a sum of shifted slices
//     times per-channel weights. Input dilation, kernel dilation, strides and negative padding (all of which
//     the convolution gradients use) are supported.
//   - Reverse, Pad (with negative and interior padding), SelectAndScatterMax/Min (MaxPool's gradient),
//     BatchNormForTraining, BatchNormForInference and BatchNormGradient.
//
// Float32 matrix products (and so every convolution) whose operands are batches of matrices run an
// AVX-512 or AVX2 FMA assembly micro-kernel (the best the CPU has) straight on the operands (gemm.go);
// other layouts run simplego's blocked algorithm with the same kernel as its block kernel, a row-copying
// operand packer and a memclr buffer fill (see sgemm.go; MLKIT_SIMD=avx2 or avx512 picks the kernel,
// MLKIT_SIMD=0 turns all of it off), and then always the blocked algorithm ("dotgeneral_large"):
// ResNet50's 64 px training step went from 6.0 s to 2.0 s with the block kernel, and from 0.74 to 0.59 s
// with the direct path. The replacement is process-wide, so the stock "go" backend gets the kernel too.
//
// At Compile, chains of float32 elementwise operations become one fused node each, whose executor reads
// every operand once and evaluates the chain in cache-sized chunks, bit-identical to the unfused ops (see
// fuse.go; MLKIT_FUSE=0 turns it off): ResNet50's 64-px training step 0.95 -> 0.88 s on a 2-core Xeon.
//
// Graph operations run sequentially (simplego's "ops_sequential"), which avoids the deadlock of its parallel
// mode; the big operations (DotGeneral) still use every core.
//
// Select it with GOMLX_BACKEND=mlkitgo (or MLKIT_BACKEND=mlkitgo); options after a colon are passed to
// simplego, e.g. "mlkitgo:parallelism=2".
package purego

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// BackendName is the name under which this backend is registered in GoMLX.
const BackendName = "mlkitgo"

// Capabilities lists the operations and dtypes this backend supports: simplego's plus the ones added here.
var Capabilities = func() backends.Capabilities {
	c := simplego.Capabilities.Clone()
	for _, op := range []backends.OpType{
		backends.OpTypeConvGeneral, backends.OpTypeReverse, backends.OpTypePad,
		backends.OpTypeSelectAndScatterMax, backends.OpTypeSelectAndScatterMin,
		backends.OpTypeBatchNormForTraining, backends.OpTypeBatchNormForInference,
		backends.OpTypeBatchNormGradient,
	} {
		c.Operations[op] = true
	}
	return c
}()

func init() {
	backends.Register(BackendName, New)
}

// New creates the backend. The config is a comma-separated list of simplego options; "ops_sequential" is
// added unless "ops_parallel" is given explicitly.
func New(config string) (backends.Backend, error) {
	if !strings.Contains(config, "ops_parallel") && !strings.Contains(config, "ops_sequential") {
		if config == "" {
			config = "ops_sequential"
		} else {
			config += ",ops_sequential"
		}
	}
	if simdKernelInstalled && !strings.Contains(config, "dotgeneral_") {
		// simplego picks its unblocked "small" algorithm whenever the output is small, however long the
		// contraction (a convolution's kernel gradient, for instance); with the SIMD block kernel the
		// blocked one is faster for those too (ResNet50 64 px training step: 3.2 s -> 2.0 s).
		config += ",dotgeneral_large"
	}
	inner, err := simplego.New(config)
	if err != nil {
		return nil, fmt.Errorf("%s backend: creating the embedded simplego backend with config %q: %w", BackendName, config, err)
	}
	sg, ok := inner.(*simplego.Backend)
	if !ok {
		return nil, fmt.Errorf("%s backend: simplego.New returned %T, expected *simplego.Backend", BackendName, inner)
	}
	return &Backend{Backend: sg, config: config}, nil
}

// Backend is the "mlkitgo" backend: a simplego backend whose builders add the missing CNN operations.
type Backend struct {
	*simplego.Backend
	config string
}

var _ backends.Backend = (*Backend)(nil)

// Name returns a human-readable name of the backend.
func (b *Backend) Name() string { return "mlkit pure Go (mlkitgo)" }

// String returns the registered backend name.
func (b *Backend) String() string { return BackendName }

// Description describes the backend and its configuration.
func (b *Backend) Description() string {
	return fmt.Sprintf("mlkit pure-Go backend (simplego + im2col convolutions), config %q", b.config)
}

// Capabilities returns the operations and dtypes supported.
func (b *Backend) Capabilities() backends.Capabilities { return Capabilities }

// Builder returns a computation builder that adds the missing operations to simplego's builder.
func (b *Backend) Builder(name string) backends.Builder {
	return &Builder{Builder: b.Backend.Builder(name), muls: map[backends.Op][2]backends.Op{}, bcasts: map[backends.Op]bcastRecord{}}
}

// Builder wraps simplego's builder: every operation it does not override is simplego's.
type Builder struct {
	backends.Builder

	// muls and bcasts remember the inputs of Mul and BroadcastInDim operations, so that ReduceSum can
	// recognise broadcast·multiply·reduce (GoMLX's DotGeneral gradient) and compute it as one DotGeneral.
	muls   map[backends.Op][2]backends.Op
	bcasts map[backends.Op]bcastRecord
	// dotRewrites counts the ReduceSum(Mul) computed as DotGeneral (for tests).
	dotRewrites int
}

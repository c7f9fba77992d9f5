// Package models holds what every model family shares: the one configuration type their constructors
// take (Config), the one constructor signature (BuildFunc), the input normalisations (Normalization,
// with the one copy of the ImageNet statistics) and Normalize, which every family's Preprocess calls.
// Each family lives in its own sub-package (resnet, efficientnet, mobilenetv2, clip), and every
// constructor they export is a BuildFunc:
//
//	func(ctx *context.Context, images *graph.Node, cfg models.Config) *graph.Node
//
// images is a float32 batch [batch, height, width, 3] (channels last), already normalised the way the
// family expects (see each family's Preprocess). A constructor returns logits [batch, NumClasses], or the
// pooled features [batch, features] when NumClasses is 0. Training mode (dropout, batch-norm statistics,
// stochastic depth) follows ctx.IsTraining(g), as everywhere in GoMLX.
//
// The registry of named networks (what "resnet50" or "mobilenet_v2_035" means, for training and for
// embedding) is package mlkit/models/zoo.
package models

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// BuildFunc is the constructor signature of every model family (see the package doc).
type BuildFunc func(ctx *context.Context, images *graph.Node, cfg Config) *graph.Node

// Config is the one configuration every model family's Build takes. Families ignore fields that do not
// apply to them. Use New and the fluent setters, e.g. models.New().Classes(5).Size(64).
type Config struct {
	// NumClasses is the size of the classification head; 0 means no head (return pooled features).
	NumClasses int
	// InputSize is the square input resolution in pixels the model will be fed.
	InputSize int
	// Width multiplies channel counts (EfficientNet width coefficient, MobileNet alpha); 1 = reference.
	Width float64
	// Depth multiplies block repeats (EfficientNet depth coefficient); 1 = reference.
	Depth float64
	// Dropout is the rate before the classification head; 0 disables it.
	Dropout float64
	// DropPath is the stochastic-depth rate (EfficientNet); 0 disables it.
	DropPath float64
}

// New returns the reference configuration: 1000 classes, 224 px, width and depth 1, no dropout.
func New() Config { return Config{NumClasses: 1000, InputSize: 224, Width: 1, Depth: 1} }

// Classes sets NumClasses.
func (c Config) Classes(n int) Config { c.NumClasses = n; return c }

// Size sets InputSize.
func (c Config) Size(px int) Config { c.InputSize = px; return c }

// WithWidth sets the width multiplier.
func (c Config) WithWidth(w float64) Config { c.Width = w; return c }

// WithDepth sets the depth multiplier.
func (c Config) WithDepth(d float64) Config { c.Depth = d; return c }

// WithDropout sets the dropout rate before the head.
func (c Config) WithDropout(p float64) Config { c.Dropout = p; return c }

// WithDropPath sets the stochastic-depth rate.
func (c Config) WithDropPath(p float64) Config { c.DropPath = p; return c }

// ParamZeroInitResidual is the context hyperparameter (bool, default false) by which a family with
// residual blocks starts each as the identity: the last batch-norm scale of every residual branch
// zero-initialised (torchvision's zero_init_residual for ResNet, timm's zero_init_last for EfficientNet).
// It changes only the initial weights; train's Options.ZeroInitResidual sets it. A family registered with
// zoo.Register may read it too.
const ParamZeroInitResidual = "zero_init_residual"

// Normalization says how a family wants RGB pixels scaled once they are in [0, 1]. Its values are
// recorded in saved training runs (config.json), so they never change.
type Normalization string

// The normalisations of mlkit's families.
const (
	// NormImageNet subtracts ImageNetMean and divides by ImageNetStd per channel (torchvision weights:
	// ResNet, EfficientNet).
	NormImageNet Normalization = "imagenet"
	// NormMinusOneOne maps [0, 1] to [-1, 1] (Keras "tf" mode: MobileNetV2).
	NormMinusOneOne Normalization = "minus1to1"
	// NormUnit keeps [0, 1].
	NormUnit Normalization = "unit"
)

// ImageNetMean and ImageNetStd are the per-channel RGB statistics of ImageNet for values in [0, 1], as
// torchvision's weights expect them (NormImageNet). They are the only copy in mlkit.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Validate reports an error for a value that is none of the constants above.
func (n Normalization) Validate() error {
	switch n {
	case NormImageNet, NormMinusOneOne, NormUnit:
		return nil
	}
	return fmt.Errorf("unknown normalization %q (want %q, %q or %q)", string(n), NormImageNet, NormMinusOneOne, NormUnit)
}

// MeanStd returns the per-channel mean and standard deviation equivalent to n: (x - mean) / std. It
// returns an error for an unknown normalisation.
func (n Normalization) MeanStd() (mean, std [3]float32, err error) {
	switch n {
	case NormImageNet:
		return ImageNetMean, ImageNetStd, nil
	case NormMinusOneOne:
		return [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5}, nil
	case NormUnit:
		return [3]float32{}, [3]float32{1, 1, 1}, nil
	}
	return mean, std, n.Validate()
}

// Normalize maps RGB images with values in [0, 1], [batch, h, w, 3], to the input a family expects
// under norm. It panics (the GoMLX convention while building a graph) for an unknown normalisation;
// the empty value means NormUnit, as in configurations saved before it was recorded.
func Normalize(images *graph.Node, norm Normalization) *graph.Node {
	switch norm {
	case NormImageNet:
		g := images.Graph()
		mean := graph.ConvertDType(graph.Const(g, ImageNetMean[:]), images.DType())
		std := graph.ConvertDType(graph.Const(g, ImageNetStd[:]), images.DType())
		return graph.Div(graph.Sub(images, graph.ExpandLeftToRank(mean, images.Rank())),
			graph.ExpandLeftToRank(std, images.Rank()))
	case NormMinusOneOne:
		return graph.AddScalar(graph.MulScalar(images, 2), -1)
	case NormUnit, "":
		return images
	}
	panic(fmt.Errorf("models.Normalize: %w", norm.Validate()))
}

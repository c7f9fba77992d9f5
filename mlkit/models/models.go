// Package models holds what every model family shares: the one configuration type their constructors
// take. Each family lives in its own sub-package (resnet, efficientnet, mobilenetv2, clip) and exposes
// the same constructor signature:
//
//	func Build(ctx *context.Context, images *graph.Node, cfg models.Config) *graph.Node
//
// images is a float32 batch [batch, height, width, 3] (channels last), already normalised the way the
// family expects (see each family's Preprocess). Build returns logits [batch, NumClasses], or the pooled
// features [batch, features] when NumClasses is 0. Training mode (dropout, batch-norm statistics,
// stochastic depth) follows ctx.IsTraining(g), as everywhere in GoMLX.
package models

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

package clip

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"

	"github.com/visionnb/visionnb/mlkit/models"
)

// param returns the weight named by its Hugging Face state-dict name (e.g.
// "vision_model.encoder.layers.0.mlp.fc1.weight"), stored as the context variable "weight" in the scope
// vision_model/encoder/layers/0/mlp/fc1 under ctx's scope. It is created (with ctx's initializer) when
// it does not exist yet, and must have the given shape when it does.
func param(ctx *context.Context, g *Graph, name string, dims ...int) *Node {
	parts := strings.Split(name, ".")
	c := ctx.Checked(false)
	for _, p := range parts[:len(parts)-1] {
		c = c.In(p)
	}
	return c.VariableWithShape(parts[len(parts)-1], shapes.Make(dtypes.Float32, dims...)).ValueGraph(g)
}

// activation returns the MLP activation named by transformers' hidden_act.
func activation(name string) (func(*Node) *Node, error) {
	switch name {
	case "quick_gelu":
		return func(x *Node) *Node { return Mul(x, Sigmoid(MulScalar(x, 1.702))) }, nil
	case "gelu":
		return func(x *Node) *Node {
			return Mul(MulScalar(x, 0.5), OnePlus(Erf(MulScalar(x, 1/math.Sqrt2))))
		}, nil
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return func(x *Node) *Node {
			inner := MulScalar(Add(x, MulScalar(Mul(x, Mul(x, x)), 0.044715)), math.Sqrt(2/math.Pi))
			return Mul(MulScalar(x, 0.5), OnePlus(Tanh(inner)))
		}, nil
	case "relu":
		return func(x *Node) *Node { return Max(x, ZerosLike(x)) }, nil
	}
	return nil, fmt.Errorf("unsupported hidden_act %q (want quick_gelu, gelu, gelu_new or relu)", name)
}

// linear is torch.nn.Linear: x @ weight^T + bias, weight [out, in].
func linear(ctx *context.Context, x *Node, name string, in, out int, bias bool) *Node {
	g := x.Graph()
	w := param(ctx, g, name+".weight", out, in)
	dims := x.Shape().Dimensions
	outDims := append(append([]int(nil), dims[:len(dims)-1]...), out)
	y := Reshape(Einsum("ni,oi->no", Reshape(x, -1, in), w), outDims...)
	if bias {
		y = Add(y, toRank(param(ctx, g, name+".bias", out), y.Rank()))
	}
	return y
}

// layerNorm is torch.nn.LayerNorm over the last axis (biased variance).
func layerNorm(ctx *context.Context, x *Node, name string, dim int, eps float64) *Node {
	g := x.Graph()
	mean := ReduceAndKeep(x, ReduceMean, -1)
	xc := Sub(x, mean)
	variance := ReduceAndKeep(Square(xc), ReduceMean, -1)
	y := Mul(xc, Rsqrt(AddScalar(variance, eps)))
	r := x.Rank()
	return Add(Mul(y, toRank(param(ctx, g, name+".weight", dim), r)), toRank(param(ctx, g, name+".bias", dim), r))
}

// toRank reshapes a vector to [1, ..., 1, n] of the given rank, for broadcasting.
func toRank(v *Node, rank int) *Node {
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1
	}
	dims[rank-1] = v.Shape().Size()
	return Reshape(v, dims...)
}

// encoder runs the transformer layers of one tower on x [batch, seq, hidden]. causal masks attention to
// later positions (text tower).
func encoder(ctx *context.Context, x *Node, prefix string, tc TowerConfig, causal bool) *Node {
	act, err := activation(tc.HiddenAct)
	if err != nil {
		panic(err)
	}
	g := x.Graph()
	d, heads := tc.HiddenSize, tc.NumHeads
	hd := d / heads
	batch, seq := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	var mask *Node
	if causal {
		// Additive mask: 0 where key <= query, a large negative number after.
		lower := LowerTriangular(g, seq)
		mask = Where(lower, ScalarZero(g, dtypes.Float32), Scalar(g, dtypes.Float32, -1e9))
		mask = Reshape(mask, 1, 1, seq, seq)
	}
	for i := range tc.NumLayers {
		l := fmt.Sprintf("%s.encoder.layers.%d.", prefix, i)
		residual := x
		h := layerNorm(ctx, x, l+"layer_norm1", d, tc.LayerNormEps)
		// q, k and v in one matrix product (fewer independent dot products for the pure-Go backend).
		wqkv := Concatenate([]*Node{
			param(ctx, g, l+"self_attn.q_proj.weight", d, d),
			param(ctx, g, l+"self_attn.k_proj.weight", d, d),
			param(ctx, g, l+"self_attn.v_proj.weight", d, d)}, 0)
		bqkv := Concatenate([]*Node{
			param(ctx, g, l+"self_attn.q_proj.bias", d),
			param(ctx, g, l+"self_attn.k_proj.bias", d),
			param(ctx, g, l+"self_attn.v_proj.bias", d)}, 0)
		qkv := Add(Einsum("bsi,oi->bso", h, wqkv), toRank(bqkv, 3))
		qkv = Reshape(qkv, batch, seq, 3, heads, hd)
		q := MulScalar(Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(0)), batch, seq, heads, hd), 1/math.Sqrt(float64(hd)))
		k := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(1)), batch, seq, heads, hd)
		v := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(2)), batch, seq, heads, hd)
		scores := Einsum("bqhd,bkhd->bhqk", q, k)
		if mask != nil {
			scores = Add(scores, mask)
		}
		probs := Softmax(scores, -1)
		attn := Reshape(Einsum("bhqk,bkhd->bqhd", probs, v), batch, seq, d)
		attn = linear(ctx, attn, l+"self_attn.out_proj", d, d, true)
		x = Add(residual, attn)
		residual = x
		h = layerNorm(ctx, x, l+"layer_norm2", d, tc.LayerNormEps)
		h = linear(ctx, h, l+"mlp.fc1", d, tc.IntermediateSize, true)
		h = act(h)
		h = linear(ctx, h, l+"mlp.fc2", tc.IntermediateSize, d, true)
		x = Add(residual, h)
	}
	return x
}

// ImageFeatures builds the vision tower and its projection: pixels [batch, H, W, 3] (channels last,
// already normalised by Preprocess, H = W = cfg.Vision.ImageSize) -> image features [batch,
// ProjectionDim], not normalised (transformers' CLIPModel.get_image_features). Weights are read from
// (or created in) ctx under their Hugging Face names; see param.
func ImageFeatures(ctx *context.Context, cfg Config, pixels *Node) *Node {
	v := cfg.Vision
	g := pixels.Graph()
	dims := pixels.Shape().Dimensions
	if len(dims) != 4 || dims[1] != v.ImageSize || dims[2] != v.ImageSize || dims[3] != v.NumChannels {
		panic(fmt.Errorf("clip: ImageFeatures wants pixels [batch, %d, %d, %d], got %s", v.ImageSize, v.ImageSize, v.NumChannels, pixels.Shape()))
	}
	batch, p, n := dims[0], v.PatchSize, v.ImageSize/v.PatchSize
	c, d := v.NumChannels, v.HiddenSize
	// The patch convolution (stride = kernel = patch, no bias) as one matrix product over flattened
	// patches, ordered (channel, row, column) like the PyTorch kernel [hidden, channels, p, p].
	x := Reshape(pixels, batch, n, p, n, p, c)
	x = TransposeAllDims(x, 0, 1, 3, 5, 2, 4) // [batch, n, n, c, p, p]
	x = Reshape(x, batch, n*n, c*p*p)
	kernel := Reshape(param(ctx, g, "vision_model.embeddings.patch_embedding.weight", d, c, p, p), d, c*p*p)
	x = Einsum("bnk,dk->bnd", x, kernel)
	cls := BroadcastToDims(Reshape(param(ctx, g, "vision_model.embeddings.class_embedding", d), 1, 1, d), batch, 1, d)
	x = Concatenate([]*Node{cls, x}, 1)
	x = Add(x, Reshape(param(ctx, g, "vision_model.embeddings.position_embedding.weight", n*n+1, d), 1, n*n+1, d))
	x = layerNorm(ctx, x, "vision_model.pre_layrnorm", d, v.LayerNormEps)
	x = encoder(ctx, x, "vision_model", v, false)
	pooled := Reshape(Slice(x, AxisRange(), AxisElem(0)), batch, d)
	pooled = layerNorm(ctx, pooled, "vision_model.post_layernorm", d, v.LayerNormEps)
	return linear(ctx, pooled, "visual_projection", d, cfg.ProjectionDim, false)
}

// TextFeatures builds the text tower and its projection: ids [batch, seq] (int32, seq <=
// MaxPositions) and eosPos [batch] (int32, the position to pool, see Model.EmbedTexts) -> text features
// [batch, ProjectionDim], not normalised (transformers' CLIPModel.get_text_features).
func TextFeatures(ctx *context.Context, cfg Config, ids, eosPos *Node) *Node {
	t := cfg.Text
	g := ids.Graph()
	seq := ids.Shape().Dimensions[1]
	if seq > t.MaxPositions {
		panic(fmt.Errorf("clip: TextFeatures got %d tokens, the model has %d positions", seq, t.MaxPositions))
	}
	d := t.HiddenSize
	emb := param(ctx, g, "text_model.embeddings.token_embedding.weight", t.VocabSize, d)
	x := Gather(emb, ExpandAxes(ids, -1)) // [batch, seq, d]
	pos := Slice(param(ctx, g, "text_model.embeddings.position_embedding.weight", t.MaxPositions, d), AxisRange(0, seq))
	x = Add(x, Reshape(pos, 1, seq, d))
	x = encoder(ctx, x, "text_model", t, true)
	x = layerNorm(ctx, x, "text_model.final_layer_norm", d, t.LayerNormEps)
	sel := OneHot(eosPos, seq, dtypes.Float32) // [batch, seq]
	pooled := Einsum("bs,bsd->bd", sel, x)
	return linear(ctx, pooled, "text_projection", d, cfg.ProjectionDim, false)
}

// Build follows the models.Build convention for CLIP's vision tower: images [batch, px, px, 3]
// preprocessed with Preprocess, the ViT-B/32 architecture at cfg.InputSize (a multiple of 32; 0 means
// 224). See BuildWith.
func Build(ctx *context.Context, images *Node, cfg models.Config) *Node {
	return BuildWith(ctx, images, ViTB32Config(), cfg)
}

// BuildWith is Build for any CLIP architecture c (its image size replaced by cfg.InputSize when set). It
// returns the projected image features [batch, c.ProjectionDim], or logits [batch, NumClasses] from a
// dense head (scope "head", after dropout cfg.Dropout in training) on the L2-normalised features.
func BuildWith(ctx *context.Context, images *Node, c Config, cfg models.Config) *Node {
	if cfg.InputSize > 0 {
		c.Vision.ImageSize = cfg.InputSize
	}
	feats := ImageFeatures(ctx, c, images)
	if cfg.NumClasses <= 0 {
		return feats
	}
	x := L2Normalize(feats, -1)
	if cfg.Dropout > 0 {
		x = layers.DropoutStatic(ctx, x, cfg.Dropout)
	}
	return layers.Dense(ctx.In("head"), x, true, cfg.NumClasses)
}

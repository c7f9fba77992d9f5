package zoo

import (
	"fmt"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/efficientnet"
	"github.com/visionnb/visionnb/mlkit/models/mobilenetv2"
	"github.com/visionnb/visionnb/mlkit/models/resnet"
)

// catalog lists mlkit's built-in networks, one block per family package.
func catalog() []Spec {
	var specs []Spec
	// ResNet v1.5 (torchvision): ImageNet normalisation, 224 px.
	for _, depth := range []int{18, 34, 50, 101, 152} {
		specs = append(specs, Spec{Name: fmt.Sprintf("resnet%d", depth), Build: must(resnet.ForDepth(depth)),
			Normalization: models.NormImageNet, Size: 224, Recipe: &resnetRecipe,
			Description: fmt.Sprintf("ResNet%d v1.5 (torchvision layout), trained from scratch", depth)})
	}
	// EfficientNet (torchvision): "efficientnet" scales by models.Config's Width and Depth; B0..B7 fix them.
	specs = append(specs, Spec{Name: "efficientnet", Build: efficientnet.Build, Normalization: models.NormImageNet,
		Size: efficientnet.Variants[0].Resolution, Recipe: &efficientnetRecipe,
		Description: "EfficientNet with models.Config's width and depth multipliers (1, 1 = B0)"})
	for v, variant := range efficientnet.Variants {
		specs = append(specs, Spec{Name: variant.Name, Build: must(efficientnet.ForVariant(v)),
			Normalization: models.NormImageNet, Size: variant.Resolution, Recipe: &efficientnetRecipe,
			Description: fmt.Sprintf("EfficientNet-B%d (torchvision layout; width %g, depth %g)", v, variant.Width, variant.Depth)})
	}
	// MobileNetV2 (Keras): [-1, 1] input, 224 px, pretrained weights in TF.js format.
	specs = append(specs,
		Spec{Name: "mobilenetv2", Aliases: []string{"mobilenet_v2"}, Build: mobilenetv2.Build,
			Normalization: models.NormMinusOneOne, Size: mobilenetv2.DefaultSize,
			Embedder:    func(o embed.Options) (embed.Embedder, error) { return embed.NewMobileNetV2(o) },
			Description: "MobileNetV2 with models.Config.Width (embed.Options.Width) as alpha, default 1.0"},
		Spec{Name: embed.MobileNetV2035, Build: must(mobilenetv2.ForWidth(0.35)),
			Normalization: models.NormMinusOneOne, Size: mobilenetv2.DefaultSize,
			Embedder: func(o embed.Options) (embed.Embedder, error) {
				return embed.NewMobileNetV2(o.WithWidth(0.35))
			},
			Description: "MobileNetV2 alpha 0.35, ImageNet weights: Teachable Machine's base model, 1280-d"})
	// CLIP (OpenAI, Hugging Face weights): a pretrained image and text embedder.
	specs = append(specs, Spec{Name: embed.CLIPViTB32, Size: 224, Embedder: embed.NewCLIP,
		Description: "CLIP ViT-B/32: images and texts in one 512-d space (pretrained only)"})
	return specs
}

// The from-scratch recipes of the ResNet and EfficientNet families (see Recipe), measured on the 472 shared
// animal photos (README, "Training from scratch").
var (
	resnetRecipe = Recipe{Optimizer: "adamw", LR: 3e-3, Schedule: "cosine", WarmupEpochs: 1, LabelSmoothing: 0.1,
		ZeroInitResidual: true, CropScaleMin: 0.75,
		Note: "AdamW 3e-3, 1 warm-up epoch, cosine, label smoothing 0.1, zero-init residual, crops of 75-100%"}
	efficientnetRecipe = Recipe{Optimizer: "adamw", LR: 3e-3, Schedule: "cosine", WarmupEpochs: 1, LabelSmoothing: 0.1,
		ZeroInitResidual: true, CropScaleMin: 0.75,
		Note: "AdamW 3e-3, 1 warm-up epoch, cosine, label smoothing 0.1, zero-init residual (timm's zero_init_last), crops of 75-100%"}
)

// must unwraps a family constructor that the catalog asks for with valid arguments.
func must(build models.BuildFunc, err error) models.BuildFunc {
	if err != nil {
		panic(fmt.Errorf("zoo: built-in catalog: %w", err))
	}
	return build
}

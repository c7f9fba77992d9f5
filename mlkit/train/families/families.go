// Package families registers mlkit's model families with package train, so that train.Deep can be given
// them by value and train.Load can rebuild a saved model by the family name in its config.json. Import it
// for its side effect (or use the exported values):
//
//	import "github.com/visionnb/visionnb/mlkit/train/families"
//	res, err := train.Deep(families.ResNet50, models.New().Size(64)).Data(...).Fit()
//
// It is a separate package so that train itself depends on no model family.
package families

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/efficientnet"
	"github.com/visionnb/visionnb/mlkit/models/mobilenetv2"
	"github.com/visionnb/visionnb/mlkit/models/resnet"
	"github.com/visionnb/visionnb/mlkit/train"
)

// Registered families. ResNets and EfficientNet take ImageNet-normalised input (torchvision weights),
// MobileNetV2 input in [-1, 1] (Keras weights). EfficientNet's variant (B0..B7) follows models.Config's
// Width and Depth; MobileNetV2's alpha is models.Config.Width.
var (
	ResNet18     = train.Family{Name: "resnet18", Build: mustResNet(18), Normalization: train.NormImageNet}
	ResNet34     = train.Family{Name: "resnet34", Build: mustResNet(34), Normalization: train.NormImageNet}
	ResNet50     = train.Family{Name: "resnet50", Build: resnet.Build, Normalization: train.NormImageNet}
	EfficientNet = train.Family{Name: "efficientnet", Build: efficientnet.Build, Normalization: train.NormImageNet}
	MobileNetV2  = train.Family{Name: "mobilenetv2", Build: mobilenetv2.Build, Normalization: train.NormMinusOneOne}
)

// All lists the registered families.
var All = []train.Family{ResNet18, ResNet34, ResNet50, EfficientNet, MobileNetV2}

func mustResNet(depth int) train.BuildFunc {
	build, err := resnet.ForDepth(depth)
	if err != nil {
		panic(err)
	}
	return build
}

// EfficientNetB returns EfficientNet variant B<v> (0..7) as a family named "efficientnet_b<v>": the
// compound-scaling width and depth of that variant are fixed, whatever models.Config says.
func EfficientNetB(v int) train.Family {
	ref := efficientnet.Config(v)
	return train.Family{Name: fmt.Sprintf("efficientnet_b%d", v), Normalization: train.NormImageNet,
		Build: func(ctx *context.Context, images *graph.Node, cfg models.Config) *graph.Node {
			cfg.Width, cfg.Depth = ref.Width, ref.Depth
			return efficientnet.Build(ctx, images, cfg)
		}}
}

func init() {
	for _, f := range All {
		train.RegisterFamily(f)
	}
	for v := 0; v <= 7; v++ {
		train.RegisterFamily(EfficientNetB(v))
	}
}

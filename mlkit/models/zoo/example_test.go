package zoo_test

import (
	"fmt"
	"image"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
)

// Registering a network of one's own: after this, train.Deep(zoo.MustLookup("tiny_dense"), cfg) trains
// it, the facade's Deep("tiny_dense") finds it, and train.Load rebuilds saved runs of it by name.
func ExampleRegister() {
	err := zoo.Register(zoo.Spec{
		Name:          "tiny_dense",
		Description:   "flatten and one dense layer, for tests",
		Normalization: models.NormUnit, // pixels in [0, 1]
		Size:          32,
		Build: func(ctx *context.Context, images *graph.Node, cfg models.Config) *graph.Node {
			x := graph.Reshape(images, images.Shape().Dimensions[0], -1)
			return layers.Dense(ctx.In("logits"), x, true, cfg.NumClasses)
		},
	})
	fmt.Println(err)
	fmt.Println(zoo.Register(zoo.Spec{Name: "resnet50", Build: zoo.MustLookup("resnet18").Build, Normalization: models.NormImageNet}))
	// Output:
	// <nil>
	// zoo.Register: model name "resnet50" is taken (by "resnet50")
}

// Embedding photos with a registered pretrained model, by name.
func ExampleEmbedder() {
	var photos []image.Image // decoded photos, any size
	e, err := zoo.Embedder("mobilenet_v2_035", embed.NewOptions().Normalized())
	if err != nil {
		fmt.Println(err) // says where to put the weights when none are found.
		return
	}
	vecs, err := e.EmbedImages(photos)
	fmt.Println(len(vecs), err)
}

package embed_test

import (
	"fmt"
	"image"

	"github.com/visionnb/visionnb/mlkit/embed"
)

// Embedding a folder's photos with Teachable Machine's MobileNetV2 (alpha 0.35; zoo.Embedder("mobilenet_v2_035", ...) is the same by name) and comparing two of them.
func ExampleNewMobileNetV2() {
	var photos []image.Image // decoded photos, any size: they are centre-cropped to 224 px.
	e, err := embed.NewMobileNetV2(embed.NewOptions().WithWidth(0.35).Normalized().
		WithProgress(func(done, total int) { fmt.Printf("\r%d/%d", done, total) }))
	if err != nil {
		fmt.Println(err) // says where to put the weights when none are found.
		return
	}
	vecs, err := e.EmbedImages(photos)
	if err != nil {
		fmt.Println(err)
		return
	}
	if len(vecs) >= 2 {
		fmt.Printf("similarity of the first two photos: %.3f\n", embed.Cosine(vecs[0], vecs[1]))
	}
}

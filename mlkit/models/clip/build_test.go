package clip

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	_ "github.com/visionnb/visionnb/mlkit/backend" // registers the backends.
	"github.com/visionnb/visionnb/mlkit/models"
)

// TestBuild checks the models.Build convention with the tiny architecture: [batch, 16] features, or
// [batch, classes] logits with a head whose variables live under "head".
func TestBuild(t *testing.T) {
	cfg, err := ReadConfig(tinyDir + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	// The pure-Go backend: no compilation, so the many small initializer graphs cost nothing.
	b, err := backends.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, classes := range []int{0, 5} {
		ctx := context.New()
		exec, err := context.NewExec(b, ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
			return BuildWith(ctx, x, cfg, models.New().Classes(classes).Size(32))
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(tensors.FromShape(shapes.Make(dtypes.Float32, 2, 32, 32, 3)))
		if err != nil {
			t.Fatal(err)
		}
		want := cfg.ProjectionDim
		if classes > 0 {
			want = classes
		}
		if d := out[0].Shape().Dimensions; len(d) != 2 || d[0] != 2 || d[1] != want {
			t.Errorf("classes %d: output shape %v, want [2 %d]", classes, d, want)
		}
		head := 0
		for v := range ctx.IterVariables() {
			if strings.HasPrefix(v.Scope(), "/head") {
				head++
			}
		}
		if (classes > 0) != (head > 0) {
			t.Errorf("classes %d: %d variables under /head", classes, head)
		}
	}
}

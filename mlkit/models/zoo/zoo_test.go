package zoo_test

import (
	"errors"
	"image"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/internal/testshared"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/efficientnet"
	"github.com/visionnb/visionnb/mlkit/models/nn/nntest"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
)

// TestBuiltinNames: every name users typed before the registry was unified still resolves, to the
// normalisation its weights expect, and the one spelling of each network is what Lookup returns.
func TestBuiltinNames(t *testing.T) {
	for _, c := range []struct {
		typed, name string
		norm        models.Normalization
		train, emb  bool
	}{
		{"resnet18", "resnet18", models.NormImageNet, true, false},
		{"resnet34", "resnet34", models.NormImageNet, true, false},
		{"resnet50", "resnet50", models.NormImageNet, true, false},
		{"efficientnet", "efficientnet", models.NormImageNet, true, false},
		{"efficientnet_b0", "efficientnet_b0", models.NormImageNet, true, false},
		{"efficientnet_b7", "efficientnet_b7", models.NormImageNet, true, false},
		{"mobilenetv2", "mobilenetv2", models.NormMinusOneOne, true, true},
		{"mobilenet_v2", "mobilenetv2", models.NormMinusOneOne, true, true}, // embed's old spelling
		{"mobilenet_v2_035", "mobilenet_v2_035", models.NormMinusOneOne, true, true},
		{"clip_vit_b32", "clip_vit_b32", "", false, true},
	} {
		s, err := zoo.Lookup(c.typed)
		if err != nil {
			t.Errorf("%s: %v", c.typed, err)
			continue
		}
		if s.Name != c.name || s.Normalization != c.norm || s.Trainable() != c.train || (s.Embedder != nil) != c.emb {
			t.Errorf("%s: got name %q norm %q trainable %v embedder %v, want %q %q %v %v",
				c.typed, s.Name, s.Normalization, s.Trainable(), s.Embedder != nil, c.name, c.norm, c.train, c.emb)
		}
		if zoo.Canonical(c.typed) != c.name {
			t.Errorf("Canonical(%q) = %q, want %q", c.typed, zoo.Canonical(c.typed), c.name)
		}
	}
	if s := zoo.MustLookup("resnet50"); s.Mean() != models.ImageNetMean || s.Std() != models.ImageNetStd || s.Size != 224 {
		t.Errorf("resnet50: mean %v std %v size %d", s.Mean(), s.Std(), s.Size)
	}
	if s := zoo.MustLookup("efficientnet_b3"); s.Size != 300 {
		t.Errorf("efficientnet_b3: size %d, torchvision's is 300", s.Size)
	}
	names := zoo.Names()
	if slices.Contains(names, "mobilenet_v2") || !slices.IsSorted(names) {
		t.Errorf("Names lists aliases or is unsorted: %v", names)
	}
	_, err := zoo.Lookup("resnet51")
	if err == nil || !strings.Contains(err.Error(), "resnet50") || !strings.Contains(err.Error(), "mobilenet_v2_035") {
		t.Errorf("unknown name: the error must list the registered names: %v", err)
	}
	if zoo.Canonical("resnet51") != "resnet51" {
		t.Error("Canonical of an unknown name must be the name")
	}
}

func countParams(t *testing.T, b backends.Backend, build models.BuildFunc, cfg models.Config) int {
	t.Helper()
	ctx := context.New()
	g := NewGraph(b, "declare")
	build(ctx, Parameter(g, "images", shapes.Make(dtypes.Float32, 1, 32, 32, 3)), cfg)
	return nntest.CountTrainable(ctx)
}

// TestBuiltinNetworks: the registered constructors are the reference networks (torchvision's parameter
// counts), and efficientnet_b<v> and mobilenet_v2_035 fix their width and depth whatever the config says.
func TestBuiltinNetworks(t *testing.T) {
	b, _, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	if n := countParams(t, b, zoo.MustLookup("resnet50").Build, models.New()); n != 25_557_032 {
		t.Errorf("resnet50: %d parameters, torchvision's has 25,557,032", n)
	}
	if n := countParams(t, b, zoo.MustLookup("resnet18").Build, models.New()); n != 11_689_512 {
		t.Errorf("resnet18: %d parameters, torchvision's has 11,689,512", n)
	}
	small := models.New().WithWidth(0.25).WithDepth(0.25)
	if n, want := countParams(t, b, zoo.MustLookup("efficientnet_b2").Build, small), countParams(t, b, efficientnet.Build, efficientnet.Config(2)); n != want {
		t.Errorf("efficientnet_b2 with width/depth 0.25: %d parameters, B2 has %d", n, want)
	}
	if n, want := countParams(t, b, zoo.MustLookup("efficientnet").Build, small), countParams(t, b, efficientnet.Build, small); n != want {
		t.Errorf("efficientnet must follow the config's width and depth: %d parameters, want %d", n, want)
	}
	fixed := countParams(t, b, zoo.MustLookup("mobilenet_v2_035").Build, models.New().Classes(5).WithWidth(1))
	if want := countParams(t, b, zoo.MustLookup("mobilenetv2").Build, models.New().Classes(5).WithWidth(0.35)); fixed != want {
		t.Errorf("mobilenet_v2_035 with width 1: %d parameters, alpha 0.35 has %d", fixed, want)
	}
}

// TestRegisterRefusesDuplicates: a taken name or alias is an error (the built-ins' and the caller's
// alike), nothing of the refused spec is registered, and MustRegister panics.
func TestRegisterRefusesDuplicates(t *testing.T) {
	build := zoo.MustLookup("resnet18").Build
	for _, s := range []zoo.Spec{
		{Name: "resnet50", Build: build, Normalization: models.NormImageNet},
		{Name: "my_net_dup", Aliases: []string{"mobilenet_v2"}, Build: build, Normalization: models.NormImageNet},
		{Name: "my_net_twice", Aliases: []string{"my_net_twice"}, Build: build, Normalization: models.NormImageNet},
	} {
		err := zoo.Register(s)
		if err == nil || !strings.Contains(err.Error(), "taken") && !strings.Contains(err.Error(), "twice") {
			t.Errorf("Register(%s, aliases %v): %v, want a taken-name error", s.Name, s.Aliases, err)
		}
	}
	if _, err := zoo.Lookup("my_net_dup"); err == nil {
		t.Error("a refused spec was registered under its own name")
	}
	if zoo.MustLookup("resnet50").Normalization != models.NormImageNet || zoo.Canonical("mobilenet_v2") != "mobilenetv2" {
		t.Error("a refused registration changed the built-ins")
	}
	mine := zoo.Spec{Name: "my_net", Aliases: []string{"mynet"}, Build: build, Normalization: models.NormUnit, Size: 32}
	if err := zoo.Register(mine); err != nil {
		t.Fatal(err)
	}
	if got := zoo.MustLookup("mynet"); got.Name != "my_net" || got.Normalization != models.NormUnit {
		t.Errorf("alias of a registered spec: %+v", got)
	}
	if err := zoo.Register(mine); err == nil {
		t.Error("registering the same spec twice succeeded")
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(error).Error(), "my_net") {
			t.Errorf("MustRegister of a taken name: recovered %v", r)
		}
	}()
	zoo.MustRegister(mine)
}

// TestRegisterRefusesInvalid: a spec without a name, with neither Build nor Embedder, with an unknown
// normalisation or with a malformed name is refused, saying why.
func TestRegisterRefusesInvalid(t *testing.T) {
	build := zoo.MustLookup("resnet18").Build
	for _, c := range []struct {
		s    zoo.Spec
		want string
	}{
		{zoo.Spec{Build: build, Normalization: models.NormUnit}, "needs a Name"},
		{zoo.Spec{Name: "nothing"}, "neither a Build"},
		{zoo.Spec{Name: "badnorm", Build: build, Normalization: "caffe"}, "caffe"},
		{zoo.Spec{Name: "nonorm", Build: build}, "normalization"},
		{zoo.Spec{Name: "ResNet", Build: build, Normalization: models.NormUnit}, "lower case"},
		{zoo.Spec{Name: "ok", Aliases: []string{"a b"}, Build: build, Normalization: models.NormUnit}, "lower case"},
		{zoo.Spec{Name: "neg", Build: build, Normalization: models.NormUnit, Size: -1}, "negative"},
	} {
		err := zoo.Register(c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Register(%+v): %v, want an error containing %q", c.s.Name, err, c.want)
		}
	}
}

type constEmbedder struct{}

func (constEmbedder) Name() string { return "const_test" }
func (constEmbedder) Dim() int     { return 2 }
func (constEmbedder) EmbedImages(imgs []image.Image) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	for i := range out {
		out[i] = []float32{1, 0}
	}
	return out, nil
}

// TestEmbedder: Embedder creates a registered spec's embedder with the options given, refuses a
// train-only network saying which names embed, and wraps the factory's error with the model's name.
func TestEmbedder(t *testing.T) {
	var gotOpts embed.Options
	zoo.MustRegister(zoo.Spec{Name: "const_test", Embedder: func(o embed.Options) (embed.Embedder, error) {
		gotOpts = o
		return constEmbedder{}, nil
	}})
	e, err := zoo.Embedder("const_test", embed.NewOptions().WithBatchSize(7))
	if err != nil || e.Dim() != 2 || gotOpts.BatchSize != 7 {
		t.Fatalf("embedder %v, options %+v, err %v", e, gotOpts, err)
	}
	_, err = zoo.Embedder("resnet50", embed.NewOptions())
	if err == nil || !strings.Contains(err.Error(), "no pretrained embedder") || !strings.Contains(err.Error(), "mobilenet_v2_035") {
		t.Errorf("embedding with a train-only network: %v", err)
	}
	boom := errors.New("boom")
	zoo.MustRegister(zoo.Spec{Name: "failing_test", Embedder: func(embed.Options) (embed.Embedder, error) { return nil, boom }})
	if _, err := zoo.Embedder("failing_test", embed.NewOptions()); !errors.Is(err, boom) || !strings.Contains(err.Error(), "failing_test") {
		t.Errorf("factory error: %v", err)
	}
	if _, err := zoo.Embedder("no_such_model", embed.NewOptions()); err == nil || !strings.Contains(err.Error(), "mobilenet_v2_035") {
		t.Errorf("unknown model error should list the registered names: %v", err)
	}
}

// TestMobileNetV2Embedders: the two MobileNetV2 entries reach the TF.js embedder, mobilenet_v2_035 with
// alpha fixed at 0.35 (so Teachable Machine's weights load whatever width is asked) and mobilenetv2 (or
// its alias mobilenet_v2) with the width asked for.
func TestMobileNetV2Embedders(t *testing.T) {
	if _, err := zoo.Embedder("mobilenet_v2_035", embed.NewOptions().WithDir(t.TempDir())); err == nil || !strings.Contains(err.Error(), "model.json") {
		t.Errorf("folder without model.json: %v", err)
	}
	dir := testshared.MobileNetV2(t)
	b, err := backends.NewWithConfig("go")
	if err != nil {
		t.Skip(err)
	}
	for _, name := range []string{"mobilenetv2", "mobilenet_v2"} {
		if _, err := zoo.Embedder(name, embed.NewOptions().WithBackend(b).WithWidth(1.0).WithDir(dir)); err == nil || !strings.Contains(err.Error(), "alpha") {
			t.Errorf("%s with alpha 1.0 on alpha 0.35 weights: %v", name, err)
		}
	}
	e, err := zoo.Embedder("mobilenet_v2_035", embed.NewOptions().WithBackend(b).WithWidth(1.0).WithDir(dir).WithBatchSize(1))
	if err != nil {
		t.Fatal(err)
	}
	if e.Name() != "mobilenet_v2_035" || e.Dim() != 1280 {
		t.Errorf("name %q dim %d", e.Name(), e.Dim())
	}
}

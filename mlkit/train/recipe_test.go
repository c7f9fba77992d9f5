package train

import (
	"math"
	"reflect"
	"testing"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// testRecipeFamily is testDenseFamily's network with a from-scratch recipe that changes every field.
var testRecipeFamily = zoo.MustRegister(zoo.Spec{Name: "test-dense-recipe", Normalization: models.NormImageNet,
	Build: testDenseFamily.Build, Recipe: &zoo.Recipe{Optimizer: "sgd", Nesterov: true, LR: 0.05, Momentum: 0.8,
		WeightDecay: 5e-4, Schedule: "onecycle", WarmupEpochs: 1, LabelSmoothing: 0.1, ZeroInitResidual: true, CropScaleMin: 0.75}})

func TestDeepRecipe(t *testing.T) {
	if got, want := DeepRecipe(testDenseFamily), DeepDefaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("a family without a recipe: DeepRecipe = %+v, want DeepDefaults %+v", got.Settings, want.Settings)
	}
	want := DeepDefaults().Optimizer("sgd").Nesterov().LR(0.05).Momentum(0.8).WeightDecay(5e-4).
		Schedule("onecycle").WarmupEpochs(1).LabelSmoothing(0.1).ZeroInitResidual()
	if got := DeepRecipe(testRecipeFamily); !reflect.DeepEqual(got.Settings, want.Settings) {
		t.Errorf("DeepRecipe = %+v\nwant %+v", got.Settings, want.Settings)
	}
	// Deep starts from the recipe; what the caller sets afterwards wins.
	tr, va := fakeExamples(40, 2), fakeExamples(4, 2)
	d := Deep(testRecipeFamily, models.New().Size(32)).Data(classNames(2), tr, va)
	if got := d.Planned().Settings; !reflect.DeepEqual(got, want.Settings) {
		t.Errorf("Deep(family with a recipe).Planned() = %+v, want the recipe %+v", got, want.Settings)
	}
	wantAug := pipeline.DefaultAugment()
	wantAug.ScaleMin = 0.75
	if got := d.Planned().Augment; got != wantAug {
		t.Errorf("Deep(family with a recipe) augments with %+v, want the recipe's crop %+v", got, wantAug)
	}
	if got := Deep(testDenseFamily, models.New()).Planned().Augment; got != pipeline.DefaultAugment() {
		t.Errorf("a family without a recipe augments with %+v, want DefaultAugment", got)
	}
	if got := d.With(d.Options().LR(0.2)).Planned().Optimizer; got.LR != 0.2 || got.Schedule != "onecycle" {
		t.Errorf("LR(0.2) after the recipe: optimizer %+v, want LR 0.2 and the recipe's schedule", got)
	}
	// The built-in from-scratch families carry recipes that validate.
	for _, name := range []string{"resnet50", "efficientnet_b0"} {
		spec := zoo.MustLookup(name)
		if spec.Recipe == nil {
			t.Errorf("%s has no from-scratch recipe", name)
			continue
		}
		if err := DeepRecipe(spec).Settings.validate(); err != nil {
			t.Errorf("%s's recipe: %v", name, err)
		}
	}
}

// TestDeepRecipeTrains checks that a run of a family with a recipe trains with it: the learning rate of
// each step is the recipe's one-cycle schedule, not DeepDefaults' cosine.
func TestDeepRecipeTrains(t *testing.T) {
	classes, trainSet, valSet := animals(t, 4, 1)
	var lrs []float64
	rec := ProgressFuncs{OnStep: func(s StepInfo) { lrs = append(lrs, s.LearningRate) }}
	d := Deep(testRecipeFamily, models.New().Size(16)).Data(classes, trainSet, valSet).CacheDir(t.TempDir())
	if _, err := d.With(d.Options().Backend(testBackend(t)).Epochs(2).BatchSize(4).Seed(3).Progress(rec)).Fit(); err != nil {
		t.Fatal(err)
	}
	// 20 examples / 4 = 5 steps per epoch, 10 in all; the rise is the recipe's one warm-up epoch.
	want := schedule{opt: OptimizerOptions{LR: 0.05, Schedule: "onecycle"}, totalSteps: 10, warmupSteps: 5}
	if len(lrs) != 10 {
		t.Fatalf("%d steps, want 10", len(lrs))
	}
	for i, lr := range lrs {
		if w := want.at(int64(i + 1)); math.Abs(lr-w) > 1e-6 {
			t.Errorf("step %d: learning rate %v, want the recipe's %v", i+1, lr, w)
		}
	}
}

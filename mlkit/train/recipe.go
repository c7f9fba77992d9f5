package train

import (
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// DeepRecipe are the options of deep training for family: DeepDefaults with the family's from-scratch
// recipe (zoo.Spec.Recipe) applied, field by field (a zero field keeps the default). A family without a
// recipe gets DeepDefaults. Deep starts from these; the facade's Deep too.
//
//	opts := train.DeepRecipe(zoo.MustLookup("resnet50")).Epochs(10).BatchSize(16)
func DeepRecipe(family zoo.Spec) Options {
	return applyRecipe(DeepDefaults(), family.Recipe)
}

// RecipeAugment is the training augmentation of family: pipeline.DefaultAugment with the recipe's crop
// scale (zoo.Recipe.CropScaleMin) when it sets one. Deep starts from it; DeepBuilder.Augment replaces it.
func RecipeAugment(family zoo.Spec) pipeline.AugmentOptions {
	aug := pipeline.DefaultAugment()
	if r := family.Recipe; r != nil && r.CropScaleMin > 0 {
		aug.ScaleMin = r.CropScaleMin
	}
	return aug
}

// applyRecipe sets o's options from r's non-zero fields.
func applyRecipe(o Options, r *zoo.Recipe) Options {
	if r == nil {
		return o
	}
	if r.Optimizer != "" {
		o = o.Optimizer(r.Optimizer)
	}
	if r.Nesterov {
		o = o.Nesterov()
	}
	if r.LR > 0 {
		o = o.LR(r.LR)
	}
	if r.Momentum > 0 {
		o = o.Momentum(r.Momentum)
	}
	if r.WeightDecay > 0 {
		o = o.WeightDecay(r.WeightDecay)
	}
	if r.Schedule != "" {
		o = o.Schedule(r.Schedule)
	}
	if r.WarmupEpochs > 0 {
		o = o.WarmupEpochs(r.WarmupEpochs)
	}
	if r.LabelSmoothing > 0 {
		o = o.LabelSmoothing(r.LabelSmoothing)
	}
	if r.ZeroInitResidual {
		o = o.ZeroInitResidual()
	}
	return o
}

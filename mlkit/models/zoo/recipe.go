package zoo

// Recipe is a network's from-scratch training recipe: the optimiser, schedule and regularisation its
// family trains best with on small data, measured (timm's pretrained cfg, for training). The training
// package starts a deep run of the network from DeepDefaults with the recipe applied (train.DeepRecipe);
// options the caller sets afterwards win; the crop scale goes to the run's augmentation (train.Deep).
// Resolution, epochs and batch size are the caller's budget and not part of it.
//
// A zero field keeps DeepDefaults' value, so a recipe names only what it changes.
type Recipe struct {
	// Optimizer is "adamw", "adam" or "sgd"; Nesterov selects Nesterov momentum for "sgd".
	Optimizer string
	Nesterov  bool
	// LR is the peak learning rate; Momentum SGD's momentum; WeightDecay the decay on kernels.
	LR, Momentum, WeightDecay float64
	// Schedule is "cosine", "constant" or "onecycle"; WarmupEpochs its warm-up (or rise) in epochs.
	Schedule     string
	WarmupEpochs float64
	// LabelSmoothing mixes LabelSmoothing/classes into the one-hot targets.
	LabelSmoothing float64
	// ZeroInitResidual starts every residual block as the identity (ResNet).
	ZeroInitResidual bool
	// CropScaleMin is the smallest area of the training augmentation's random resized crop, as a fraction
	// of the image (pipeline.DefaultAugment's 0.35 when 0): short runs on small images fit faster with
	// milder crops.
	CropScaleMin float64
	// Note says where the recipe comes from (the measurement behind it), for listings.
	Note string
}

// Package train fits classifiers for mlkit: a transfer-learning head on cached frozen embeddings (Head) and
// a deep network trained from scratch on images (Deep). Both share one training engine: fixed batch shapes,
// in-graph optimisers (SGD with momentum, AdamW) with warm-up and cosine schedules, label smoothing, mixup, class
// weights, early stopping, per-epoch history, checkpoints at epoch ends (spaced when a save is slow) and exact resume after a crash, and a
// Progress callback. Load reads a saved run back as a Predictor. LRFind runs fastai's learning-rate range
// test on a configured run without saving anything, and every epoch checks whether the validation
// predictions collapsed to one class (Collapse).
//
// The options both kinds share are one value, Options (start from HeadDefaults or DeepDefaults, chain its
// setters, pass it with With); the builders keep only their own (a head's hidden layer, deep training's
// augmentation). What a run saves in config.json is RunConfig, which embeds Options' Settings.
//
// Inputs are plain data (Example, Embedded, class names); train never reads the app's store. Data order and
// augmentation depend only on (seed, epoch, example), and the graph's random state is checkpointed, so an
// interrupted run resumed from the same output directory ends with the same weights as an uninterrupted one.
package train

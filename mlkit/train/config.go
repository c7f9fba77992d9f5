package train

import (
	"encoding/json"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// RunConfig describes a training run; it is saved as config.json in the output directory and read back by
// Load. A run resumes only into a directory whose config.json matches (the backend name aside).
type RunConfig struct {
	// Kind is "head" (classifier on embeddings) or "deep" (network on images).
	Kind string `json:"kind"`
	// Family is the deep network's name in the model registry (package zoo).
	Family string `json:"family,omitempty"`
	// Model is the models.Config passed to the family's Build (NumClasses and InputSize filled in).
	Model models.Config `json:"model"`
	// Classes are the class names, index = label.
	Classes []string `json:"classes"`
	// InputSize is the square image resolution in pixels (deep).
	InputSize int `json:"input_size,omitempty"`
	// Normalization of the [0,1] pixels the family expects (deep), see models.Normalization.
	Normalization models.Normalization `json:"normalization,omitempty"`
	// Augment is the training augmentation (deep).
	Augment pipeline.AugmentOptions `json:"augment"`
	// EmbeddingDim is the input vector length (head).
	EmbeddingDim int `json:"embedding_dim,omitempty"`
	// Hidden is the head's hidden layer width (0: linear); Dropout its dropout rate.
	Hidden  int     `json:"hidden,omitempty"`
	Dropout float64 `json:"dropout,omitempty"`
	// MultiLabel selects independent sigmoids instead of a softmax.
	MultiLabel bool `json:"multi_label"`
	// L2 is the loss penalty on weight matrices; BalanceClasses weights the loss by inverse class frequency.
	L2             float64 `json:"l2,omitempty"`
	BalanceClasses bool    `json:"balance_classes"`
	LabelSmoothing float64 `json:"label_smoothing,omitempty"`
	// Optimizer and its schedule.
	Optimizer OptimizerOptions `json:"optimizer"`
	// Epochs planned and the fixed BatchSize actually used.
	Epochs    int `json:"epochs"`
	BatchSize int `json:"batch_size"`
	// Patience of early stopping (0: off) and whether the best epoch's weights are restored.
	Patience    int  `json:"patience,omitempty"`
	RestoreBest bool `json:"restore_best"`
	// Seed drives initialisation, data order, augmentation and dropout.
	Seed int64 `json:"seed"`
	// NumTrain and NumVal are the split sizes.
	NumTrain int `json:"num_train"`
	NumVal   int `json:"num_val"`
	// Dataset is the caller's description of the data (e.g. a dataset version), recorded verbatim.
	Dataset string `json:"dataset,omitempty"`
	// Backend is the GoMLX backend the run started on.
	Backend string `json:"backend"`
}

// fingerprint is the config without the backend, for "is this the same run" checks.
func (c *RunConfig) fingerprint() string {
	cc := *c
	cc.Backend = ""
	data, _ := json.Marshal(&cc)
	return string(data)
}

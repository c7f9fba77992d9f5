package train

import (
	"encoding/json"
	"fmt"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// RunConfig describes a training run; it is saved as config.json in the output directory and read back by
// Load. A run resumes only into a directory whose config.json matches (the backend name aside).
type RunConfig struct {
	// Kind is "head" (classifier on embeddings), "deep" (network on images, from scratch) or "finetune"
	// (network on images, from pretrained weights: see FineTune).
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
	// L2 is the loss penalty on weight matrices (head).
	L2 float64 `json:"l2,omitempty"`
	// Pretrained is the weights file or folder a fine-tuned model's backbone started from (finetune).
	Pretrained string `json:"pretrained,omitempty"`
	// BackboneLRFactor divides the learning rate of a fine-tuned model's pretrained backbone (finetune).
	BackboneLRFactor float64 `json:"backbone_lr_factor,omitempty"`
	// BackboneGroups is the number of consecutive layer groups the backbone's learning rates are spread
	// over (finetune; 0 or 1: one rate, LR / BackboneLRFactor, for all of it).
	BackboneGroups int `json:"backbone_groups,omitempty"`
	// Frozen are the training options of a fine-tuned model's frozen phase: its head alone, on the
	// backbone's features (finetune).
	Frozen *Settings `json:"frozen,omitempty"`
	// Settings are the run's training options (see Options); their fields are saved at the top level.
	Settings
	// NumTrain and NumVal are the split sizes.
	NumTrain int `json:"num_train"`
	NumVal   int `json:"num_val"`
	// Backend is the GoMLX backend the run started on.
	Backend string `json:"backend"`
}

// imageModel reports whether the run's model takes images (deep or fine-tuned), not embeddings.
func (c *RunConfig) imageModel() bool { return c.Kind == "deep" || c.Kind == KindFineTune }

// fingerprint is the config without the backend as JSON, for "is this the same run" checks. It fails
// when the config cannot be encoded (a NaN or infinite setting).
func (c *RunConfig) fingerprint() (string, error) {
	cc := *c
	cc.Backend = ""
	data, err := json.Marshal(&cc)
	if err != nil {
		return "", fmt.Errorf("encoding the run configuration: %w", err)
	}
	return string(data), nil
}

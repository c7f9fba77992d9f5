package train

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the dot import.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/train/pipeline"
)

// RunConfig describes a training run; it is saved as config.json in the output directory and read back by
// Load. A run resumes only into a directory whose config.json matches (the backend name aside).
type RunConfig struct {
	// Kind is "head" (classifier on embeddings) or "deep" (network on images).
	Kind string `json:"kind"`
	// Family is the deep model family's registered name (see RegisterFamily).
	Family string `json:"family,omitempty"`
	// Model is the models.Config passed to the family's Build (NumClasses and InputSize filled in).
	Model models.Config `json:"model"`
	// Classes are the class names, index = label.
	Classes []string `json:"classes"`
	// InputSize is the square image resolution in pixels (deep).
	InputSize int `json:"input_size,omitempty"`
	// Normalization of the [0,1] pixels the family expects (deep), see Normalization.
	Normalization Normalization `json:"normalization,omitempty"`
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
	// Settings are the run's training options (see Options); their fields are saved at the top level.
	Settings
	// NumTrain and NumVal are the split sizes.
	NumTrain int `json:"num_train"`
	NumVal   int `json:"num_val"`
	// Backend is the GoMLX backend the run started on.
	Backend string `json:"backend"`
}

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

// Normalization says how a family wants pixels scaled (pixels are first mapped to [0, 1]).
type Normalization string

// Supported normalisations.
const (
	// NormImageNet subtracts the ImageNet mean and divides by its std per channel (ResNet, EfficientNet).
	NormImageNet Normalization = "imagenet"
	// NormMinusOneOne maps to [-1, 1] (MobileNetV2 / Keras "tf" mode).
	NormMinusOneOne Normalization = "minus1to1"
	// NormUnit keeps [0, 1].
	NormUnit Normalization = "unit"
)

// ImageNetMean and ImageNetStd are the per-channel RGB statistics used by NormImageNet.
var (
	ImageNetMean = [3]float64{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float64{0.229, 0.224, 0.225}
)

// normalizeGraph maps uint8 pixels [batch, h, w, 3] to the float32 input the family expects.
func normalizeGraph(x *Node, norm Normalization) *Node {
	g := x.Graph()
	f := DivScalar(ConvertDType(x, dtypes.Float32), 255)
	switch norm {
	case NormImageNet:
		mean := Const(g, []float32{float32(ImageNetMean[0]), float32(ImageNetMean[1]), float32(ImageNetMean[2])})
		std := Const(g, []float32{float32(ImageNetStd[0]), float32(ImageNetStd[1]), float32(ImageNetStd[2])})
		return Div(Sub(f, ExpandLeftToRank(mean, 4)), ExpandLeftToRank(std, 4))
	case NormMinusOneOne:
		return AddScalar(MulScalar(f, 2), -1)
	default:
		return f
	}
}

// BuildFunc is the constructor every model family exposes (see package models).
type BuildFunc func(ctx *context.Context, images *Node, cfg models.Config) *Node

// Family names a model constructor and the input normalisation it expects. Deep training takes one, and
// Load finds it again by Name in the registry (see RegisterFamily).
type Family struct {
	// Name is saved in config.json, e.g. "resnet50", "efficientnet-b0", "mobilenetv2".
	Name string
	// Build constructs the model.
	Build BuildFunc
	// Normalization of the pixels Build expects.
	Normalization Normalization
}

var (
	familiesMu sync.RWMutex
	families   = map[string]Family{}
)

// RegisterFamily makes a family loadable by name (Load needs it to rebuild a saved deep model). Registering
// a name again replaces the earlier entry.
func RegisterFamily(f Family) {
	familiesMu.Lock()
	defer familiesMu.Unlock()
	families[f.Name] = f
}

// LookupFamily returns the family registered under name.
func LookupFamily(name string) (Family, error) {
	familiesMu.RLock()
	defer familiesMu.RUnlock()
	f, ok := families[name]
	if !ok {
		names := make([]string, 0, len(families))
		for n := range families {
			names = append(names, n)
		}
		sort.Strings(names)
		return Family{}, fmt.Errorf("model family %q is not registered (registered: %v); call train.RegisterFamily first", name, names)
	}
	return f, nil
}

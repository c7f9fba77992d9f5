package clip

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// TowerConfig holds the transformer sizes of one CLIP tower, read from the "text_config" or
// "vision_config" section of a Hugging Face config.json (missing fields take the CLIP ViT-B/32 defaults
// of transformers' CLIPTextConfig/CLIPVisionConfig).
type TowerConfig struct {
	// HiddenSize is the transformer width.
	HiddenSize int `json:"hidden_size"`
	// IntermediateSize is the MLP's inner width.
	IntermediateSize int `json:"intermediate_size"`
	// NumLayers is the number of encoder layers.
	NumLayers int `json:"num_hidden_layers"`
	// NumHeads is the number of attention heads.
	NumHeads int `json:"num_attention_heads"`
	// HiddenAct is the MLP activation: "quick_gelu" (CLIP), "gelu", "gelu_new"/"gelu_pytorch_tanh", "relu".
	HiddenAct string `json:"hidden_act"`
	// LayerNormEps is the LayerNorm epsilon.
	LayerNormEps float64 `json:"layer_norm_eps"`

	// Text tower only.

	// VocabSize is the number of token embeddings.
	VocabSize int `json:"vocab_size,omitempty"`
	// MaxPositions is the number of position embeddings (the context length).
	MaxPositions int `json:"max_position_embeddings,omitempty"`
	// EOSTokenID selects the pooled position: the first position holding this id, or, when it is 2 (old
	// configs), the position of the largest id, as transformers does.
	EOSTokenID int `json:"eos_token_id,omitempty"`

	// Vision tower only.

	// ImageSize is the square input resolution.
	ImageSize int `json:"image_size,omitempty"`
	// PatchSize is the side of the square patches.
	PatchSize int `json:"patch_size,omitempty"`
	// NumChannels is the number of image channels (3).
	NumChannels int `json:"num_channels,omitempty"`
}

// Config is a CLIP model's configuration.
type Config struct {
	// Text is the text tower.
	Text TowerConfig
	// Vision is the vision tower.
	Vision TowerConfig
	// ProjectionDim is the size of the shared embedding space.
	ProjectionDim int
}

// DefaultTextConfig returns transformers' CLIPTextConfig defaults (the ViT-B/32 text tower).
func DefaultTextConfig() TowerConfig {
	return TowerConfig{HiddenSize: 512, IntermediateSize: 2048, NumLayers: 12, NumHeads: 8, HiddenAct: "quick_gelu",
		LayerNormEps: 1e-5, VocabSize: VocabSize, MaxPositions: ContextLength, EOSTokenID: EndOfText}
}

// DefaultVisionConfig returns transformers' CLIPVisionConfig defaults (the ViT-B/32 vision tower).
func DefaultVisionConfig() TowerConfig {
	return TowerConfig{HiddenSize: 768, IntermediateSize: 3072, NumLayers: 12, NumHeads: 12, HiddenAct: "quick_gelu",
		LayerNormEps: 1e-5, ImageSize: 224, PatchSize: 32, NumChannels: 3}
}

// ViTB32Config returns the configuration of openai/clip-vit-base-patch32.
func ViTB32Config() Config {
	return Config{Text: DefaultTextConfig(), Vision: DefaultVisionConfig(), ProjectionDim: 512}
}

// ReadConfig reads a Hugging Face CLIP config.json.
func ReadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("clip: config: %w", err)
	}
	return ParseConfig(data)
}

// ParseConfig parses the contents of a Hugging Face CLIP config.json and checks that the sizes agree.
func ParseConfig(data []byte) (Config, error) {
	var raw struct {
		ModelType     string          `json:"model_type"`
		ProjectionDim *int            `json:"projection_dim"`
		TextConfig    json.RawMessage `json:"text_config"`
		VisionConfig  json.RawMessage `json:"vision_config"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("clip: config.json is not valid JSON: %w", err)
	}
	if raw.ModelType != "" && raw.ModelType != "clip" {
		return Config{}, fmt.Errorf("clip: config.json has model_type %q, want \"clip\"", raw.ModelType)
	}
	cfg := Config{Text: DefaultTextConfig(), Vision: DefaultVisionConfig(), ProjectionDim: 512}
	if raw.ProjectionDim != nil {
		cfg.ProjectionDim = *raw.ProjectionDim
	}
	if len(raw.TextConfig) > 0 && string(raw.TextConfig) != "null" {
		if err := json.Unmarshal(raw.TextConfig, &cfg.Text); err != nil {
			return Config{}, fmt.Errorf("clip: config.json text_config: %w", err)
		}
	}
	if len(raw.VisionConfig) > 0 && string(raw.VisionConfig) != "null" {
		if err := json.Unmarshal(raw.VisionConfig, &cfg.Vision); err != nil {
			return Config{}, fmt.Errorf("clip: config.json vision_config: %w", err)
		}
	}
	return cfg, cfg.Validate()
}

// Validate checks that the sizes are positive and consistent.
func (c Config) Validate() error {
	for _, t := range []struct {
		name string
		tc   TowerConfig
	}{{"text", c.Text}, {"vision", c.Vision}} {
		tc := t.tc
		if tc.HiddenSize <= 0 || tc.IntermediateSize <= 0 || tc.NumLayers <= 0 || tc.NumHeads <= 0 {
			return fmt.Errorf("clip: %s config: sizes must be positive (hidden %d, intermediate %d, layers %d, heads %d)",
				t.name, tc.HiddenSize, tc.IntermediateSize, tc.NumLayers, tc.NumHeads)
		}
		if tc.HiddenSize%tc.NumHeads != 0 {
			return fmt.Errorf("clip: %s config: hidden size %d is not divisible by %d heads", t.name, tc.HiddenSize, tc.NumHeads)
		}
		if _, err := activation(tc.HiddenAct); err != nil {
			return fmt.Errorf("clip: %s config: %w", t.name, err)
		}
		if tc.LayerNormEps <= 0 {
			return fmt.Errorf("clip: %s config: layer_norm_eps must be positive, got %g", t.name, tc.LayerNormEps)
		}
	}
	if c.Text.VocabSize <= 0 || c.Text.MaxPositions <= 0 {
		return fmt.Errorf("clip: text config: vocab_size %d and max_position_embeddings %d must be positive", c.Text.VocabSize, c.Text.MaxPositions)
	}
	v := c.Vision
	if v.ImageSize <= 0 || v.PatchSize <= 0 || v.ImageSize%v.PatchSize != 0 || v.NumChannels <= 0 {
		return fmt.Errorf("clip: vision config: image_size %d must be a positive multiple of patch_size %d (channels %d)", v.ImageSize, v.PatchSize, v.NumChannels)
	}
	if c.ProjectionDim <= 0 {
		return fmt.Errorf("clip: projection_dim must be positive, got %d", c.ProjectionDim)
	}
	return nil
}

// NumPatches returns the number of image patches of the vision tower (without the class token).
func (c Config) NumPatches() int {
	n := c.Vision.ImageSize / c.Vision.PatchSize
	return n * n
}

// ParamShapes lists every weight of the model by its Hugging Face state-dict name, with its shape.
func (c Config) ParamShapes() map[string][]int {
	out := map[string][]int{"logit_scale": {}}
	tower := func(prefix string, tc TowerConfig) {
		d, f := tc.HiddenSize, tc.IntermediateSize
		for i := range tc.NumLayers {
			l := fmt.Sprintf("%s.encoder.layers.%d.", prefix, i)
			for _, p := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
				out[l+"self_attn."+p+".weight"] = []int{d, d}
				out[l+"self_attn."+p+".bias"] = []int{d}
			}
			for _, n := range []string{"layer_norm1", "layer_norm2"} {
				out[l+n+".weight"] = []int{d}
				out[l+n+".bias"] = []int{d}
			}
			out[l+"mlp.fc1.weight"] = []int{f, d}
			out[l+"mlp.fc1.bias"] = []int{f}
			out[l+"mlp.fc2.weight"] = []int{d, f}
			out[l+"mlp.fc2.bias"] = []int{d}
		}
	}
	t, v := c.Text, c.Vision
	tower("text_model", t)
	out["text_model.embeddings.token_embedding.weight"] = []int{t.VocabSize, t.HiddenSize}
	out["text_model.embeddings.position_embedding.weight"] = []int{t.MaxPositions, t.HiddenSize}
	out["text_model.final_layer_norm.weight"] = []int{t.HiddenSize}
	out["text_model.final_layer_norm.bias"] = []int{t.HiddenSize}
	out["text_projection.weight"] = []int{c.ProjectionDim, t.HiddenSize}
	tower("vision_model", v)
	out["vision_model.embeddings.class_embedding"] = []int{v.HiddenSize}
	out["vision_model.embeddings.patch_embedding.weight"] = []int{v.HiddenSize, v.NumChannels, v.PatchSize, v.PatchSize}
	out["vision_model.embeddings.position_embedding.weight"] = []int{c.NumPatches() + 1, v.HiddenSize}
	for _, n := range []string{"pre_layrnorm", "post_layernorm"} { // "layrnorm" is transformers' spelling.
		out["vision_model."+n+".weight"] = []int{v.HiddenSize}
		out["vision_model."+n+".bias"] = []int{v.HiddenSize}
	}
	out["visual_projection.weight"] = []int{c.ProjectionDim, v.HiddenSize}
	return out
}

// PreprocessConfig is the image preprocessing of CLIPImageProcessor (preprocessor_config.json).
type PreprocessConfig struct {
	// ShortestEdge is the size the shorter image side is resized to (bicubic).
	ShortestEdge int
	// CropHeight and CropWidth are the center-crop size.
	CropHeight, CropWidth int
	// Mean and Std normalise each RGB channel after rescaling to [0,1].
	Mean, Std [3]float32
	// RescaleFactor multiplies the 0..255 pixel values (1/255).
	RescaleFactor float64
}

// DefaultPreprocessConfig returns CLIPImageProcessor's defaults for size px (224 for ViT-B/32).
func DefaultPreprocessConfig(px int) PreprocessConfig {
	return PreprocessConfig{ShortestEdge: px, CropHeight: px, CropWidth: px,
		Mean:          [3]float32{0.48145466, 0.4578275, 0.40821073},
		Std:           [3]float32{0.26862954, 0.26130258, 0.27577711},
		RescaleFactor: 1.0 / 255}
}

// ReadPreprocessConfig reads preprocessor_config.json from dir; when absent it returns the defaults
// for size px. Only the fields CLIP uses are read; resampling is always bicubic.
func ReadPreprocessConfig(dir string, px int) (PreprocessConfig, error) {
	pc := DefaultPreprocessConfig(px)
	data, err := os.ReadFile(filepath.Join(dir, "preprocessor_config.json"))
	if os.IsNotExist(err) {
		return pc, nil
	}
	if err != nil {
		return pc, fmt.Errorf("clip: preprocessor config: %w", err)
	}
	var raw struct {
		Size          json.RawMessage `json:"size"`
		CropSize      json.RawMessage `json:"crop_size"`
		Mean          []float32       `json:"image_mean"`
		Std           []float32       `json:"image_std"`
		RescaleFactor *float64        `json:"rescale_factor"`
		Resample      *int            `json:"resample"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return pc, fmt.Errorf("clip: preprocessor_config.json in %s: %w", dir, err)
	}
	if raw.Resample != nil && *raw.Resample != 3 {
		return pc, fmt.Errorf("clip: preprocessor_config.json in %s asks for resample %d; only bicubic (3) is implemented", dir, *raw.Resample)
	}
	sizeOf := func(m json.RawMessage, h, w *int) error {
		if len(m) == 0 || string(m) == "null" {
			return nil
		}
		var n int
		if err := json.Unmarshal(m, &n); err == nil {
			*h, *w = n, n
			return nil
		}
		var d map[string]int
		if err := json.Unmarshal(m, &d); err != nil {
			return err
		}
		if v, ok := d["shortest_edge"]; ok {
			*h, *w = v, v
		}
		if v, ok := d["height"]; ok {
			*h = v
		}
		if v, ok := d["width"]; ok {
			*w = v
		}
		return nil
	}
	var dummy int
	if err := sizeOf(raw.Size, &pc.ShortestEdge, &dummy); err != nil {
		return pc, fmt.Errorf("clip: preprocessor_config.json size: %w", err)
	}
	if err := sizeOf(raw.CropSize, &pc.CropHeight, &pc.CropWidth); err != nil {
		return pc, fmt.Errorf("clip: preprocessor_config.json crop_size: %w", err)
	}
	if len(raw.Mean) == 3 {
		copy(pc.Mean[:], raw.Mean)
	}
	if len(raw.Std) == 3 {
		copy(pc.Std[:], raw.Std)
	}
	if raw.RescaleFactor != nil {
		pc.RescaleFactor = *raw.RescaleFactor
	}
	if pc.ShortestEdge <= 0 || pc.CropHeight <= 0 || pc.CropWidth <= 0 {
		return pc, fmt.Errorf("clip: preprocessor_config.json in %s: sizes must be positive", dir)
	}
	return pc, nil
}

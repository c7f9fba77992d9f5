// Package clip is OpenAI's CLIP (ViT-B/32 and other ViT variants) in GoMLX: the BPE tokenizer, the
// image preprocessing of transformers' CLIPImageProcessor, the vision and text towers, and an embedder
// that loads Hugging Face checkpoints (config.json + model.safetensors).
//
// Weights: download the Hugging Face repository openai/clip-vit-base-patch32 (config.json,
// model.safetensors, preprocessor_config.json, tokenizer.json or vocab.json + merges.txt), e.g. with
// `huggingface-cli download openai/clip-vit-base-patch32 --local-dir DIR`, then clip.Load(DIR). When
// DIR holds no tokenizer files, the tokenizer of the project's shared folder (models/clip_tokenizer) is
// used.
//
//	m, err := clip.Load(dir)
//	img, err := m.EmbedImages([]image.Image{photo})        // L2-normalised, Dim() floats each
//	txt, err := m.EmbedTexts([]string{"a photo of a dog"})
//	logit := m.LogitScale() * dot(img[0], txt[0])
//
// Outputs match transformers' CLIPModel (image_embeds, text_embeds, logits_per_image) within 1e-4
// (see the parity test on a tiny random-weight model in testdata/tiny).
package clip

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/assets"
	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/internal/vecmath"
	"github.com/visionnb/visionnb/mlkit/weights/safetensors"
)

// DefaultBatchSize is how many images or texts go through the model in one execution.
const DefaultBatchSize = 16

// Model is a loaded CLIP model with its tokenizer and preprocessing. Its methods are safe for concurrent
// use (executions are serialised).
type Model struct {
	name       string
	cfg        Config
	pre        PreprocessConfig
	tok        *Tokenizer
	tokErr     error
	backend    backends.Backend
	ctx        *context.Context
	logitScale float32
	batchSize  int

	mu        sync.Mutex
	imageExec *context.Exec
	textExec  *context.Exec
}

// Loader configures Load. Create it with NewLoader and finish with Load.
type Loader struct {
	dir       string
	tokPath   string
	backend   backends.Backend
	batchSize int
	name      string
	random    *Config
}

// NewLoader starts configuring the load of the Hugging Face CLIP folder dir.
func NewLoader(dir string) *Loader { return &Loader{dir: dir, batchSize: DefaultBatchSize} }

// Tokenizer sets where the tokenizer files are (a file or folder, see LoadTokenizer); by default dir,
// then the shared folder's models/clip_tokenizer.
func (l *Loader) Tokenizer(path string) *Loader { l.tokPath = path; return l }

// Backend sets the GoMLX backend; by default mlkit/backend.Default().
func (l *Loader) Backend(b backends.Backend) *Loader { l.backend = b; return l }

// BatchSize sets how many inputs run in one execution (default DefaultBatchSize).
func (l *Loader) BatchSize(n int) *Loader { l.batchSize = n; return l }

// Name sets the name Model.Name reports; by default "clip:" plus the folder's base name.
func (l *Loader) Name(name string) *Loader { l.name = name; return l }

// RandomWeights makes Load ignore the folder's weights and config and build cfg with random weights
// (for benchmarks and tests of the plumbing; the embeddings mean nothing).
func (l *Loader) RandomWeights(cfg Config) *Loader { l.random = &cfg; return l }

// Load opens a Hugging Face CLIP folder (config.json, model.safetensors or a sharded index,
// optional preprocessor_config.json and tokenizer files) with the default options.
func Load(dir string) (*Model, error) { return NewLoader(dir).Load() }

// Load reads the configuration, weights and tokenizer and prepares the model.
func (l *Loader) Load() (*Model, error) {
	m := &Model{name: l.name, batchSize: l.batchSize, backend: l.backend}
	if m.batchSize <= 0 {
		m.batchSize = DefaultBatchSize
	}
	if m.name == "" {
		m.name = "clip:" + filepath.Base(filepath.Clean(l.dir))
	}
	var err error
	if l.random != nil {
		m.cfg = *l.random
		if err := m.cfg.Validate(); err != nil {
			return nil, err
		}
	} else if m.cfg, err = ReadConfig(filepath.Join(l.dir, "config.json")); err != nil {
		return nil, fmt.Errorf("clip: loading %s: %w", l.dir, err)
	}
	if m.pre, err = ReadPreprocessConfig(l.dir, m.cfg.Vision.ImageSize); err != nil {
		return nil, err
	}
	if m.pre.CropHeight != m.cfg.Vision.ImageSize || m.pre.CropWidth != m.cfg.Vision.ImageSize {
		return nil, fmt.Errorf("clip: %s: preprocessing crops %dx%d but the model takes %d px images", l.dir, m.pre.CropWidth, m.pre.CropHeight, m.cfg.Vision.ImageSize)
	}
	// A missing tokenizer only disables EmbedTexts: image embeddings and TextFeaturesFromIDs still work.
	m.tok, m.tokErr = l.loadTokenizer()
	if m.backend == nil {
		if m.backend, _, err = backend.Default(); err != nil {
			return nil, fmt.Errorf("clip: no backend: %w", err)
		}
	}
	m.ctx = context.New()
	if l.random != nil {
		m.logitScale = float32(math.Log(1 / 0.07))
		for name, dims := range m.cfg.ParamShapes() {
			if name == "logit_scale" {
				continue
			}
			n := 1
			for _, d := range dims {
				n *= d
			}
			vals := make([]float32, n)
			for i := range vals {
				vals[i] = float32(math.Sin(float64(i)*12.9898+float64(len(name)))) * 0.02
			}
			if err := m.setVar(name, vals, dims); err != nil {
				return nil, err
			}
		}
	} else if err := m.loadWeights(l.dir); err != nil {
		return nil, err
	}
	return m, nil
}

func (l *Loader) loadTokenizer() (*Tokenizer, error) {
	if l.tokPath != "" {
		return LoadTokenizer(l.tokPath)
	}
	for _, f := range []string{BPEVocabFile, TokenizerJSONFile, "vocab.json"} {
		if _, err := os.Stat(filepath.Join(l.dir, f)); err == nil {
			return LoadTokenizer(l.dir)
		}
	}
	if p, ok := assets.SharedPath("models", "clip_tokenizer"); ok {
		return LoadTokenizer(p)
	}
	return nil, fmt.Errorf("clip: %s has no tokenizer files (%s, %s or vocab.json + merges.txt) and the shared clip_tokenizer folder was not found; set the tokenizer with NewLoader(dir).Tokenizer(path)", l.dir, BPEVocabFile, TokenizerJSONFile)
}

func (m *Model) setVar(name string, vals []float32, dims []int) error {
	c := m.ctx.Checked(false)
	parts := splitName(name)
	for _, p := range parts[:len(parts)-1] {
		c = c.In(p)
	}
	t := tensors.FromFlatDataAndDimensions(vals, dims...)
	c.VariableWithValue(parts[len(parts)-1], t)
	return nil
}

func (m *Model) loadWeights(dir string) error {
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("clip: loading weights: %w", err)
	}
	defer set.Close()
	var errs []error
	for name, dims := range m.cfg.ParamShapes() {
		info, ok := set.Info(name)
		if !ok {
			errs = append(errs, fmt.Errorf("missing tensor %q", name))
			continue
		}
		if !sameDims(info.Shape, dims) {
			errs = append(errs, fmt.Errorf("tensor %q has shape %v, the config wants %v", name, info.Shape, dims))
			continue
		}
		vals, _, err := set.Float32s(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if name == "logit_scale" {
			m.logitScale = float32(math.Exp(float64(vals[0])))
			continue
		}
		if err := m.setVar(name, vals, dims); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Errorf("... and %d more problems", len(errs)-5))
		}
		return fmt.Errorf("clip: weights in %s do not match config.json: %w", dir, errors.Join(errs...))
	}
	return nil
}

func sameDims(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func splitName(name string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			parts = append(parts, name[start:i])
			start = i + 1
		}
	}
	return append(parts, name[start:])
}

// Close frees the compiled graphs and the weights held by the backend. The model is unusable after.
func (m *Model) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range []**context.Exec{&m.imageExec, &m.textExec} {
		if *e != nil {
			(*e).Finalize()
			*e = nil
		}
	}
	if m.ctx != nil {
		m.ctx.Finalize()
		m.ctx = nil
	}
}

// Name returns the model's name, e.g. "clip:clip-vit-base-patch32".
func (m *Model) Name() string { return m.name }

// Dim returns the embedding size (the projection dimension).
func (m *Model) Dim() int { return m.cfg.ProjectionDim }

// LogitScale returns exp(logit_scale): logits = LogitScale() * cosine similarity.
func (m *Model) LogitScale() float32 { return m.logitScale }

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Preprocessing returns the image preprocessing configuration.
func (m *Model) Preprocessing() PreprocessConfig { return m.pre }

// Tokenizer returns the model's tokenizer, or the error that kept it from loading.
func (m *Model) Tokenizer() (*Tokenizer, error) { return m.tok, m.tokErr }

// EmbedImages returns one L2-normalised embedding per image (transformers' image_embeds).
func (m *Model) EmbedImages(imgs []image.Image) ([][]float32, error) {
	px := m.cfg.Vision.ImageSize
	pixels := make([][]float32, len(imgs))
	for i, img := range imgs {
		if img == nil {
			return nil, fmt.Errorf("clip: EmbedImages: image %d is nil", i)
		}
		p, err := m.pre.Preprocess(img)
		if err != nil {
			return nil, fmt.Errorf("clip: EmbedImages: image %d: %w", i, err)
		}
		pixels[i] = p
	}
	feats, err := m.ImageFeaturesFromPixels(pixels, px)
	if err != nil {
		return nil, err
	}
	return normalizeRows(feats), nil
}

// ImageFeaturesFromPixels runs the vision tower on preprocessed pixels (each [px][px][3] channels-last,
// see PreprocessConfig.Preprocess) and returns the projected features, not normalised.
func (m *Model) ImageFeaturesFromPixels(pixels [][]float32, px int) ([][]float32, error) {
	if px != m.cfg.Vision.ImageSize {
		return nil, fmt.Errorf("clip: the model takes %d px images, got %d", m.cfg.Vision.ImageSize, px)
	}
	per := px * px * m.cfg.Vision.NumChannels
	for i, p := range pixels {
		if len(p) != per {
			return nil, fmt.Errorf("clip: image %d has %d values, want %d (%dx%dx%d)", i, len(p), per, px, px, m.cfg.Vision.NumChannels)
		}
	}
	out := make([][]float32, 0, len(pixels))
	for start := 0; start < len(pixels); start += m.batchSize {
		chunk := pixels[start:min(start+m.batchSize, len(pixels))]
		b := paddedBatch(len(chunk), m.batchSize)
		flat := make([]float32, b*per)
		for i, p := range chunk {
			copy(flat[i*per:], p)
		}
		in := tensors.FromFlatDataAndDimensions(flat, b, px, px, m.cfg.Vision.NumChannels)
		res, err := m.run(&m.imageExec, func(ctx *context.Context, x *graph.Node) *graph.Node {
			return ImageFeatures(ctx, m.cfg, x)
		}, in)
		if err != nil {
			return nil, fmt.Errorf("clip: image tower: %w", err)
		}
		out = append(out, res[:len(chunk)]...)
	}
	return out, nil
}

// EmbedTexts returns one L2-normalised embedding per text (transformers' text_embeds); texts longer
// than the context are truncated.
func (m *Model) EmbedTexts(texts []string) ([][]float32, error) {
	if m.tok == nil {
		return nil, fmt.Errorf("clip: EmbedTexts: no tokenizer: %w", m.tokErr)
	}
	ids := make([][]int, len(texts))
	for i, t := range texts {
		ids[i] = m.tok.Tokenize(t, m.cfg.Text.MaxPositions)
	}
	feats, err := m.TextFeaturesFromIDs(ids)
	if err != nil {
		return nil, err
	}
	return normalizeRows(feats), nil
}

// TextFeaturesFromIDs runs the text tower on token ids (as from Tokenizer.Tokenize, padded or not) and
// returns the projected features, not normalised. The pooled position is the first end-of-text id
// (or the largest id for configs whose eos_token_id is 2, as transformers does).
func (m *Model) TextFeaturesFromIDs(ids [][]int) ([][]float32, error) {
	maxPos := m.cfg.Text.MaxPositions
	out := make([][]float32, 0, len(ids))
	for start := 0; start < len(ids); start += m.batchSize {
		chunk := ids[start:min(start+m.batchSize, len(ids))]
		seq := 1
		pos := make([]int32, paddedBatch(len(chunk), m.batchSize))
		for i, row := range chunk {
			if len(row) == 0 || len(row) > maxPos {
				return nil, fmt.Errorf("clip: text %d has %d tokens, want 1..%d", start+i, len(row), maxPos)
			}
			p := m.poolPosition(row)
			pos[i] = int32(p)
			seq = max(seq, p+1)
		}
		// Positions after the pooled one cannot change it (causal attention): run only up to it, rounded
		// up to a multiple of 8 to limit the number of compiled shapes.
		seq = min((seq+7)/8*8, maxPos)
		b := len(pos)
		flat := make([]int32, b*seq)
		for i, row := range chunk {
			for j := 0; j < seq && j < len(row); j++ {
				if row[j] < 0 || row[j] >= m.cfg.Text.VocabSize {
					return nil, fmt.Errorf("clip: text %d: token id %d out of the vocabulary [0,%d)", start+i, row[j], m.cfg.Text.VocabSize)
				}
				flat[i*seq+j] = int32(row[j])
			}
		}
		res, err := m.run(&m.textExec, func(ctx *context.Context, x, p *graph.Node) *graph.Node {
			return TextFeatures(ctx, m.cfg, x, p)
		}, tensors.FromFlatDataAndDimensions(flat, b, seq), tensors.FromFlatDataAndDimensions(pos, b))
		if err != nil {
			return nil, fmt.Errorf("clip: text tower: %w", err)
		}
		out = append(out, res[:len(chunk)]...)
	}
	return out, nil
}

func (m *Model) poolPosition(row []int) int {
	eos := m.cfg.Text.EOSTokenID
	best := 0
	for j, id := range row {
		if eos == 2 {
			if id > row[best] {
				best = j
			}
		} else if id == eos {
			return j
		}
	}
	if eos == 2 {
		return best
	}
	return len(row) - 1 // no end token: transformers' argmax would give 0; the last token is more useful.
}

// paddedBatch rounds n up to a power of two no larger than max(n, limit), so few shapes get compiled.
func paddedBatch(n, limit int) int {
	b := 1
	for b < n {
		b *= 2
	}
	return min(b, max(n, limit))
}

// run executes a graph builder (cached per input shape) and returns rows of its [batch, dim] output.
func (m *Model) run(exec **context.Exec, fn any, args ...any) (rows [][]float32, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	if m.ctx == nil {
		return nil, errors.New("model is closed")
	}
	if *exec == nil {
		e, err := context.NewExecAny(m.backend, m.ctx.Reuse(), fn)
		if err != nil {
			return nil, err
		}
		e.SetMaxCache(32)
		*exec = e
	}
	outs, err := (*exec).Exec(args...)
	if err != nil {
		return nil, err
	}
	t := outs[0]
	defer t.FinalizeAll()
	if !t.Shape().Equal(shapes.Make(dtypes.Float32, t.Shape().Dimensions...)) || t.Rank() != 2 {
		return nil, fmt.Errorf("unexpected output shape %s", t.Shape())
	}
	flat, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	n, d := t.Shape().Dimensions[0], t.Shape().Dimensions[1]
	rows = make([][]float32, n)
	for i := range rows {
		rows[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return rows, nil
}

// Logits returns LogitScale() * cosine similarity for every (image, text) pair: [len(img)][len(txt)],
// transformers' logits_per_image. Inputs are embeddings from EmbedImages and EmbedTexts.
func (m *Model) Logits(img, txt [][]float32) [][]float32 {
	out := make([][]float32, len(img))
	for i, a := range img {
		out[i] = make([]float32, len(txt))
		for j, b := range txt {
			var s float64
			for k := range a {
				s += float64(a[k]) * float64(b[k])
			}
			out[i][j] = float32(s) * m.logitScale
		}
	}
	return out
}

func normalizeRows(rows [][]float32) [][]float32 { return vecmath.NormalizeRows(rows) }

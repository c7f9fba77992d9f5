package mlkit

import (
	"encoding/json"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/visionnb/visionnb/mlkit/assets"
	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/ingest"
	"github.com/visionnb/visionnb/mlkit/internal/csvsafe"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/train"
)

// ModelCardFile is the file, inside a saved model's folder, that says what the model is and what it reads
// (kind, family, embedder, classes, dataset), so the folder alone is enough to predict.
const ModelCardFile = "mlkit.json"

// ModelCard is the content of ModelCardFile.
type ModelCard struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Family   string   `json:"family"`
	Embedder string   `json:"embedder,omitempty"`
	Classes  []string `json:"classes"`
	Dataset  string   `json:"dataset"`
	Version  int      `json:"version"`
}

func writeModelCard(dir string, c ModelCard) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ModelCardFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("mlkit: writing the model card: %w", err)
	}
	return nil
}

// Predictor predicts classes for image files with a saved model folder (an app's models/<name>, or an
// exported copy): heads embed the images first with their embedder, deep models read pixels.
//
// Files are read and decoded within the upload limits (see [ingest.Limits]): a file that is too large,
// claims too many pixels in its header, is truncated, or is not an image is skipped with the reason in
// its [Prediction], never decoded in full. Heads keep the vectors of the files they embedded in a cache
// keyed by embedder and file content (SHA-256), so predicting the same folder again does not run the
// embedder again.
type Predictor struct {
	Card ModelCard
	// Limits bound the files read (the zero value means ingest.DefaultLimits, the upload defaults).
	Limits ingest.Limits
	p      *train.Predictor
	em     embed.Embedder
	cache  vectorCache
}

// LoadPredictor loads a saved model folder. Embedding vectors are cached under the user's mlkit cache
// folder ($MLKIT_CACHE, else ~/.cache/mlkit), in embeddings/.
func LoadPredictor(dir string) (*Predictor, error) {
	root := ""
	if c, err := assets.CacheDir(); err == nil {
		root = filepath.Join(c, "embeddings")
	}
	return loadPredictor(dir, root)
}

func loadPredictor(dir, cacheRoot string) (*Predictor, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ModelCardFile))
	if err != nil {
		return nil, fmt.Errorf("mlkit: %s is not a saved mlkit model (no %s): %w", dir, ModelCardFile, err)
	}
	var c ModelCard
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("mlkit: reading %s: %w", filepath.Join(dir, ModelCardFile), err)
	}
	p, err := train.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("mlkit: loading model %q: %w", c.Name, err)
	}
	pr := &Predictor{Card: c, p: p}
	if c.Kind == KindHead {
		if pr.em, err = zoo.Embedder(c.Embedder, embed.NewOptions()); err != nil {
			return nil, fmt.Errorf("mlkit: model %q needs embedder %s: %w", c.Name, c.Embedder, err)
		}
		pr.cache = newVectorCache(cacheRoot, c.Embedder, p.Config().EmbeddingDim)
	}
	return pr, nil
}

// FlipTTA turns horizontal-flip test-time augmentation on or off (fastai's tta, with the flip alone): a deep
// model's probabilities for each image are the mean of those for the image and its mirror image, at twice
// the inference time. A head classifies cached embeddings of the photos as they are, so it returns an
// error. On 5-fold cross-validation of the tutorial's photos it changed validation accuracy by -0.4 to +2.4 points
// (README, "Training from scratch").
func (p *Predictor) FlipTTA(on bool) error {
	if p.Card.Kind == KindHead {
		return fmt.Errorf("mlkit: flip test-time augmentation needs a deep model; %q is a head on %s embeddings", p.Card.Name, p.Card.Embedder)
	}
	p.p.SetFlipTTA(on)
	return nil
}

// PredictImages returns class probabilities for decoded images (columns in Card.Classes order).
func (p *Predictor) PredictImages(imgs []image.Image) ([][]float32, error) {
	return p.classify(imageBatch(imgs))
}

// modelInput is a batch of items to classify, able to give what either kind of model reads.
type modelInput interface {
	// vectors returns the items' embeddings, from p's embedder (heads).
	vectors(p *Predictor) ([][]float32, error)
	// pixels runs a deep model on the items' pixels.
	pixels(p *train.Predictor) ([][]float32, error)
}

// classify returns the class probabilities of a batch: a head classifies the items' embedding vectors,
// a deep model their pixels. This is the one place that tells the two kinds apart when predicting.
func (p *Predictor) classify(in modelInput) ([][]float32, error) {
	var probs [][]float32
	var err error
	if p.Card.Kind == KindHead {
		var vecs [][]float32
		if vecs, err = in.vectors(p); err != nil {
			return nil, err
		}
		probs, err = p.p.PredictVectors(vecs)
	} else {
		probs, err = in.pixels(p.p)
	}
	if err != nil {
		return nil, fmt.Errorf("mlkit: predicting with %q: %w", p.Card.Name, err)
	}
	return probs, nil
}

// embedder returns the head's embedder.
func (p *Predictor) embedder() (embed.Embedder, error) {
	if p.em == nil {
		return nil, fmt.Errorf("mlkit: model %q has no embedder loaded to embed images with", p.Card.Name)
	}
	return p.em, nil
}

// imageBatch is decoded images to classify.
type imageBatch []image.Image

func (b imageBatch) vectors(p *Predictor) ([][]float32, error) {
	em, err := p.embedder()
	if err != nil {
		return nil, err
	}
	vecs, err := em.EmbedImages(b)
	if err != nil {
		return nil, fmt.Errorf("mlkit: embedding for %q: %w", p.Card.Name, err)
	}
	return vecs, nil
}

func (b imageBatch) pixels(p *train.Predictor) ([][]float32, error) { return p.PredictImages(b) }

// appInputs is inputs of an app to classify: heads read their cached embeddings (computed when missing),
// deep models their original files, through the app's decoded-pixels cache.
type appInputs struct {
	app   *App
	ids   []int64
	paths []string
}

func (in appInputs) vectors(p *Predictor) ([][]float32, error) {
	emb, err := in.app.Embed(p.Card.Embedder)
	if err != nil {
		return nil, err
	}
	vecs := make([][]float32, len(in.ids))
	for i, id := range in.ids {
		if vecs[i] = emb.Vector(id); vecs[i] == nil {
			return nil, fmt.Errorf("mlkit: evaluate %q: input %d has no %s embedding", p.Card.Name, id, p.Card.Embedder)
		}
	}
	return vecs, nil
}

func (in appInputs) pixels(p *train.Predictor) ([][]float32, error) {
	p.SetCacheDir(filepath.Join(in.app.Dir(), "cache", "pixels"))
	return p.Predict(in.paths)
}

// predictMembers runs one of a's models on the labelled members of one split of data's dataset version
// (data is a itself, or another app whose photos the model is evaluated on).
//
// With useRecorded, a deep model's probabilities for images it was trained or validated on come from
// what its training recorded with the final weights (train.Recorded), without loading the model: the
// same numbers, without compiling its graph again. Any image not in the record means a full prediction.
func (a *App) predictMembers(data *App, m store.Model, members []store.Member, split Split, useRecorded bool) (eval.Predictions, error) {
	label := map[string]int{}
	for i, c := range m.Classes {
		label[c] = i
	}
	p := eval.Predictions{Classes: m.Classes}
	in := appInputs{app: data}
	var shas []string
	for _, mem := range members {
		if mem.Split != split || mem.Concept == "" {
			continue
		}
		l, ok := label[mem.Concept]
		if !ok {
			return p, fmt.Errorf("mlkit: evaluate %q: input %d is labelled %q, a class the model was not trained on (%s)", m.Name, mem.InputID, mem.Concept, strings.Join(m.Classes, ", "))
		}
		p.Labels = append(p.Labels, l)
		p.IDs = append(p.IDs, mem.InputID)
		in.ids = append(in.ids, mem.InputID)
		in.paths = append(in.paths, data.st.BlobPath(mem.SHA256))
		shas = append(shas, mem.SHA256)
	}
	if len(in.ids) == 0 {
		return p, fmt.Errorf("mlkit: evaluate %q: the %s split has no labelled inputs", m.Name, split)
	}
	if useRecorded && m.Kind != KindHead {
		probs, ok, err := train.Recorded(filepath.Join(a.Dir(), m.Dir), shas)
		if err != nil {
			return p, fmt.Errorf("mlkit: model %q: %w", m.Name, err)
		}
		if ok {
			p.Probs = probs
			return p, nil
		}
	}
	tp, err := train.Load(filepath.Join(a.Dir(), m.Dir))
	if err != nil {
		return p, fmt.Errorf("mlkit: loading model %q: %w", m.Name, err)
	}
	pr := &Predictor{Card: ModelCard{Name: m.Name, Kind: m.Kind, Family: m.Family, Embedder: m.Embedder, Classes: m.Classes,
		Dataset: m.Dataset, Version: m.Version}, p: tp}
	p.Probs, err = pr.classify(in)
	return p, err
}

// Prediction is one image's predicted class.
type Prediction struct {
	File       string
	Class      string
	Confidence float32
	Probs      []float32
	// Reason and Err are set (and the rest empty) when the file was skipped: it could not be read, or
	// was rejected by the upload limits (see ingest.Reason). Err is the full message.
	Reason ingest.Reason
	Err    string
}

// Skipped reports whether the file was skipped (no prediction).
func (pr Prediction) Skipped() bool { return pr.Err != "" }

// PredictionSummary counts what a prediction run did.
type PredictionSummary struct {
	Predicted int
	Skipped   int
	// Reasons counts the skipped files per reason.
	Reasons map[ingest.Reason]int
}

// SummarizePredictions counts predicted and skipped files.
func SummarizePredictions(preds []Prediction) PredictionSummary {
	s := PredictionSummary{Reasons: map[ingest.Reason]int{}}
	for _, pr := range preds {
		if pr.Skipped() {
			s.Skipped++
			s.Reasons[pr.Reason]++
		} else {
			s.Predicted++
		}
	}
	return s
}

// String is e.g. "42 predicted, 3 skipped (2 not_image, 1 too_many_pixels)".
func (s PredictionSummary) String() string {
	out := fmt.Sprintf("%d predicted, %d skipped", s.Predicted, s.Skipped)
	if len(s.Reasons) > 0 {
		var reasons []string
		for r := range s.Reasons {
			reasons = append(reasons, string(r))
		}
		sort.Strings(reasons)
		for i, r := range reasons {
			reasons[i] = fmt.Sprintf("%d %s", s.Reasons[ingest.Reason(r)], r)
		}
		out += " (" + strings.Join(reasons, ", ") + ")"
	}
	return out
}

// PredictFolder predicts every file under dir (recursively, hidden files skipped), in path order. A file
// that cannot be read or is rejected by the limits gets a skipped Prediction (Reason, Err) and the run
// goes on; the error is for the run as a whole (dir unreadable, the model failing).
func (p *Predictor) PredictFolder(dir string) ([]Prediction, error) {
	var files []string
	var skipped []Prediction
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			skipped = append(skipped, Prediction{File: path, Reason: ingest.ReasonUnreadable, Err: err.Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mlkit: listing %s: %w", dir, err)
	}
	preds, err := p.PredictFiles(files)
	if err != nil {
		return nil, err
	}
	preds = append(preds, skipped...)
	sort.SliceStable(preds, func(i, j int) bool { return preds[i].File < preds[j].File })
	return preds, nil
}

// predictBatch and predictBatchPixels bound one batch of PredictFiles: at most that many images, and
// at most that many decoded pixels held at once (an image is at most Limits.MaxPixels).
const (
	predictBatch       = 32
	predictBatchPixels = 128 << 20
)

// PredictFiles predicts the given files, in order, one Prediction each (see PredictFolder).
func (p *Predictor) PredictFiles(files []string) ([]Prediction, error) {
	lim := p.Limits
	if lim == (ingest.Limits{}) {
		lim = ingest.DefaultLimits()
	}
	out := make([]Prediction, len(files))
	var b predictionBatch
	for i, f := range files {
		out[i].File = f
		data, err := lim.ReadFile(f)
		if err != nil {
			out[i].Reason, out[i].Err = ingest.ReasonOf(err), err.Error()
			continue
		}
		sha := store.SHA256(data)
		if v := p.cache.get(sha); v != nil {
			b.add(i, sha, nil, v)
		} else {
			img, _, err := lim.Decode(data)
			if err != nil {
				out[i].Reason, out[i].Err = ingest.ReasonOf(err), fmt.Sprintf("%s: %v", f, err)
				continue
			}
			b.add(i, sha, img, nil)
		}
		if len(b.idx) >= predictBatch || b.npixels >= predictBatchPixels {
			if err := p.flush(&b, out); err != nil {
				return nil, err
			}
		}
	}
	if err := p.flush(&b, out); err != nil {
		return nil, err
	}
	return out, nil
}

// predictionBatch is the files of PredictFiles waiting to be predicted: each with its decoded image, or
// (for a head) its cached vector.
type predictionBatch struct {
	idx     []int
	shas    []string
	imgs    []image.Image
	vecs    [][]float32
	npixels int64
}

func (b *predictionBatch) add(i int, sha string, img image.Image, vec []float32) {
	b.idx, b.shas, b.imgs, b.vecs = append(b.idx, i), append(b.shas, sha), append(b.imgs, img), append(b.vecs, vec)
	if img != nil {
		b.npixels += int64(img.Bounds().Dx()) * int64(img.Bounds().Dy())
	}
}

// vectors returns the batch's embeddings: the cached ones, and the images without one embedded now (and
// cached).
func (b *predictionBatch) vectors(p *Predictor) ([][]float32, error) {
	var todo []int
	var imgs []image.Image
	for k, img := range b.imgs {
		if b.vecs[k] == nil {
			todo, imgs = append(todo, k), append(imgs, img)
		}
	}
	if len(imgs) > 0 {
		em, err := p.embedder()
		if err != nil {
			return nil, err
		}
		vecs, err := em.EmbedImages(imgs)
		if err != nil {
			return nil, fmt.Errorf("mlkit: embedding %d images for %q: %w", len(imgs), p.Card.Name, err)
		}
		for j, k := range todo {
			b.vecs[k] = vecs[j]
			_ = p.cache.put(b.shas[k], vecs[j]) // a cache that cannot be written only costs speed
		}
	}
	return b.vecs, nil
}

func (b *predictionBatch) pixels(p *train.Predictor) ([][]float32, error) {
	return p.PredictImages(b.imgs)
}

// flush predicts the batch into out and empties it; a head embeds (and caches) only the images without a
// cached vector.
func (p *Predictor) flush(b *predictionBatch, out []Prediction) error {
	if len(b.idx) == 0 {
		return nil
	}
	defer func() { *b = predictionBatch{} }()
	probs, err := p.classify(b)
	if err != nil {
		return err
	}
	for k, i := range b.idx {
		best := eval.Argmax(probs[k])
		out[i].Probs, out[i].Class, out[i].Confidence = probs[k], p.Card.Classes[best], probs[k][best]
	}
	return nil
}

// WriteCSV writes predictions as CSV: file, predicted class, confidence, one probability column per class,
// status ("predicted" or "skipped"), the reason a file was skipped, and the error. Cells are neutralised
// against formula injection (a file named "=cmd...jpg" is written as "'=cmd...jpg").
func (p *Predictor) WriteCSV(w io.Writer, preds []Prediction) error {
	cw := csvsafe.NewWriter(w)
	header := append([]string{"file", "predicted", "confidence"}, p.Card.Classes...)
	if err := cw.Write(append(header, "status", "reason", "error")); err != nil {
		return err
	}
	for _, pr := range preds {
		row := []string{pr.File, pr.Class, ""}
		if !pr.Skipped() {
			row[2] = fmt.Sprintf("%.4f", pr.Confidence)
		}
		for c := range p.Card.Classes {
			if !pr.Skipped() && c < len(pr.Probs) {
				row = append(row, fmt.Sprintf("%.4f", pr.Probs[c]))
			} else {
				row = append(row, "")
			}
		}
		status := "predicted"
		if pr.Skipped() {
			status = "skipped"
		}
		if err := cw.Write(append(row, status, string(pr.Reason), pr.Err)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Predictor loads one of the app's models for predictions on new images.
func (a *App) Predictor(model string) (*Predictor, error) {
	m, err := a.LoadModel(model)
	if err != nil {
		return nil, err
	}
	return loadPredictor(filepath.Join(a.Dir(), m.Dir), filepath.Join(a.Dir(), "cache", "embeddings"))
}

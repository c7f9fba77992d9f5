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

// PredictImages returns class probabilities for decoded images (columns in Card.Classes order).
func (p *Predictor) PredictImages(imgs []image.Image) ([][]float32, error) {
	if p.em != nil {
		vecs, err := p.em.EmbedImages(imgs)
		if err != nil {
			return nil, fmt.Errorf("mlkit: embedding for %q: %w", p.Card.Name, err)
		}
		return p.p.PredictVectors(vecs)
	}
	return p.p.PredictImages(imgs)
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
		if len(b.idx) >= predictBatch || b.pixels >= predictBatchPixels {
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
	idx    []int
	shas   []string
	imgs   []image.Image
	vecs   [][]float32
	pixels int64
}

func (b *predictionBatch) add(i int, sha string, img image.Image, vec []float32) {
	b.idx, b.shas, b.imgs, b.vecs = append(b.idx, i), append(b.shas, sha), append(b.imgs, img), append(b.vecs, vec)
	if img != nil {
		b.pixels += int64(img.Bounds().Dx()) * int64(img.Bounds().Dy())
	}
}

// flush predicts the batch into out and empties it; a head embeds (and caches) only the images without a
// cached vector.
func (p *Predictor) flush(b *predictionBatch, out []Prediction) error {
	if len(b.idx) == 0 {
		return nil
	}
	defer func() { *b = predictionBatch{} }()
	var probs [][]float32
	var err error
	if p.em == nil {
		probs, err = p.p.PredictImages(b.imgs)
	} else {
		var todo []int
		var imgs []image.Image
		for k, img := range b.imgs {
			if b.vecs[k] == nil {
				todo, imgs = append(todo, k), append(imgs, img)
			}
		}
		if len(imgs) > 0 {
			vecs, err := p.em.EmbedImages(imgs)
			if err != nil {
				return fmt.Errorf("mlkit: embedding %d images for %q: %w", len(imgs), p.Card.Name, err)
			}
			for j, k := range todo {
				b.vecs[k] = vecs[j]
				_ = p.cache.put(b.shas[k], vecs[j]) // a cache that cannot be written only costs speed
			}
		}
		probs, err = p.p.PredictVectors(b.vecs)
	}
	if err != nil {
		return fmt.Errorf("mlkit: predicting with %q: %w", p.Card.Name, err)
	}
	for k, i := range b.idx {
		best := 0
		for c := range probs[k] {
			if probs[k][c] > probs[k][best] {
				best = c
			}
		}
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

package mlkit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/ingest"
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
type Predictor struct {
	Card ModelCard
	p    *train.Predictor
	em   embed.Embedder
}

// LoadPredictor loads a saved model folder.
func LoadPredictor(dir string) (*Predictor, error) {
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
		if pr.em, err = embed.Get(c.Embedder, embed.NewOptions()); err != nil {
			return nil, fmt.Errorf("mlkit: model %q needs embedder %s: %w", c.Name, c.Embedder, err)
		}
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
	// Err is set (and the rest empty) when the file could not be read as an image.
	Err string
}

// PredictFolder predicts every image file under dir (recursively), in path order; unreadable files get
// an Err instead of stopping the run.
func (p *Predictor) PredictFolder(dir string) ([]Prediction, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mlkit: listing %s: %w", dir, err)
	}
	sort.Strings(files)
	var out []Prediction
	const batch = 32
	for start := 0; start < len(files); start += batch {
		var imgs []image.Image
		var idx []int
		for _, f := range files[start:min(start+batch, len(files))] {
			pr := Prediction{File: f}
			data, err := os.ReadFile(f)
			var img image.Image
			if err == nil {
				img, _, err = ingest.Decode(data)
			}
			if err != nil {
				pr.Err = err.Error()
			} else {
				imgs = append(imgs, img)
				idx = append(idx, len(out))
			}
			out = append(out, pr)
		}
		if len(imgs) == 0 {
			continue
		}
		probs, err := p.PredictImages(imgs)
		if err != nil {
			return nil, err
		}
		for i, j := range idx {
			best := 0
			for c := range probs[i] {
				if probs[i][c] > probs[i][best] {
					best = c
				}
			}
			out[j].Probs, out[j].Class, out[j].Confidence = probs[i], p.Card.Classes[best], probs[i][best]
		}
	}
	return out, nil
}

// WriteCSV writes predictions as CSV: file, predicted class, confidence, one probability column per class,
// and an error column.
func (p *Predictor) WriteCSV(w io.Writer, preds []Prediction) error {
	cw := csv.NewWriter(w)
	header := append([]string{"file", "predicted", "confidence"}, p.Card.Classes...)
	if err := cw.Write(append(header, "error")); err != nil {
		return err
	}
	for _, pr := range preds {
		row := []string{pr.File, pr.Class, ""}
		if pr.Err == "" {
			row[2] = fmt.Sprintf("%.4f", pr.Confidence)
		}
		for c := range p.Card.Classes {
			if pr.Err == "" {
				row = append(row, fmt.Sprintf("%.4f", pr.Probs[c]))
			} else {
				row = append(row, "")
			}
		}
		if err := cw.Write(append(row, pr.Err)); err != nil {
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
	return LoadPredictor(filepath.Join(a.Dir(), m.Dir))
}

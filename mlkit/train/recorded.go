package train

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/visionnb/visionnb/mlkit/internal/atomicfile"
)

// RecordedFile, in a deep run's output directory, holds the class probabilities that the finished model
// (its final weights: the restored best epoch when RestoreBest) gives every training and validation image,
// computed once at the end of training with the evaluation program the run had already compiled. An
// evaluation of the model on those images reads them (Recorded) instead of loading the model and compiling
// its graph again; images the run never saw (a test split, new photos) are always predicted afresh.
const RecordedFile = "recorded_predictions.json"

// recordedPredictions is RecordedFile's content: Probs[i] belongs to the image whose bytes hash to
// SHA256[i].
type recordedPredictions struct {
	Classes int         `json:"classes"`
	SHA256  []string    `json:"sha256"`
	Probs   [][]float32 `json:"probs"`
}

// recordPredictions writes RecordedFile for a deep run with an output directory (no-op otherwise, and
// when the file is already there: the weights of a finished run do not change).
func (e *engine) recordPredictions(p *Predictor) error {
	if e.outDir == "" {
		return nil
	}
	path := filepath.Join(e.outDir, RecordedFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var rec recordedPredictions
	rec.Classes = e.numClasses
	for _, src := range []dataSource{e.train, e.val} {
		img, ok := src.(*imageSource)
		if !ok || img == nil || len(img.paths) != img.Len() {
			continue
		}
		probs, err := p.predictPixels(img.pixels)
		if err != nil {
			return fmt.Errorf("recording the final predictions: %w", err)
		}
		for i, file := range img.paths {
			sum, err := fileSHA256(file)
			if err != nil {
				return fmt.Errorf("recording the final predictions: %w", err)
			}
			rec.SHA256 = append(rec.SHA256, sum)
			rec.Probs = append(rec.Probs, probs[i])
		}
	}
	if len(rec.SHA256) == 0 {
		return nil
	}
	return atomicfile.WriteJSON(path, rec)
}

// Recorded returns the probabilities that the deep run in dir recorded at the end of training for the
// images with these content hashes (SHA-256 of the file bytes, hex), in order, and true; or false when the
// run has no record (a head, a run from before records existed, a run without an output directory) or
// any of the images is not in it. An unreadable or inconsistent record is an error.
func Recorded(dir string, sha256s []string) ([][]float32, bool, error) {
	var rec recordedPredictions
	if err := readJSON(filepath.Join(dir, RecordedFile), &rec); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, err
	}
	if len(rec.SHA256) != len(rec.Probs) {
		return nil, false, fmt.Errorf("%s: %d hashes but %d probability rows", filepath.Join(dir, RecordedFile), len(rec.SHA256), len(rec.Probs))
	}
	at := make(map[string]int, len(rec.SHA256))
	for i, s := range rec.SHA256 {
		if len(rec.Probs[i]) != rec.Classes {
			return nil, false, fmt.Errorf("%s: row %d has %d probabilities for %d classes", filepath.Join(dir, RecordedFile), i, len(rec.Probs[i]), rec.Classes)
		}
		at[s] = i
	}
	out := make([][]float32, len(sha256s))
	for k, s := range sha256s {
		i, ok := at[s]
		if !ok {
			return nil, false, nil
		}
		out[k] = rec.Probs[i]
	}
	return out, true, nil
}

// fileSHA256 returns the hex SHA-256 of a file's bytes.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

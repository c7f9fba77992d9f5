package embed

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/assets"
	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/mobilenetv2"
	"github.com/visionnb/visionnb/mlkit/weights/tfjs"
)

// MobileNetV2035 is the name of Keras MobileNetV2 alpha 0.35 at 224 px, Teachable Machine's base model
// (1280-d): the name of its entry in package zoo and what its embedder's Name returns.
const MobileNetV2035 = "mobilenet_v2_035"

// SharedMobileNetV2Dir is the folder, inside the project's shared folder, holding the alpha 0.35 weights.
var SharedMobileNetV2Dir = []string{"models", "mobilenet_v2_035_tfjs"}

// MobileNetV2 embeds images with the global-average-pooled "out_relu" features of Keras MobileNetV2,
// loaded from TF.js weights. Images are centre-cropped and resized to Size (mobilenetv2.PreprocessImage). It is
// safe for concurrent use; batches run one at a time.
type MobileNetV2 struct {
	alpha     float64
	size      int
	batch     int
	normalize bool
	progress  func(done, total int)
	model     *compiledMobileNet
}

// compiledMobileNet is the per-process shared model: weights loaded once, graph compiled once.
type compiledMobileNet struct {
	mu    sync.Mutex
	exec  *mlctx.Exec
	dim   int
	dir   string
	bName string
}

var (
	compiledMu sync.Mutex
	compiled   = map[string]*compiledMobileNet{}
)

// NewMobileNetV2 creates a MobileNetV2 embedder (alpha = opts.Width, default 1.0; see MobileNetV2Dir for
// where the weights come from). Embedders with the same weights, alpha, size, batch and backend share
// one compiled graph in the process.
func NewMobileNetV2(opts Options) (*MobileNetV2, error) {
	alpha := opts.Width
	if alpha == 0 {
		alpha = 1
	}
	size := opts.Size
	if size == 0 {
		size = mobilenetv2.DefaultSize
	}
	if size < 32 {
		return nil, fmt.Errorf("mobilenet_v2: input size %d px is too small (minimum 32)", size)
	}
	be := opts.Backend
	if be == nil {
		var err error
		if be, _, err = backend.Default(); err != nil {
			return nil, fmt.Errorf("mobilenet_v2: %w", err)
		}
	}
	dir, err := MobileNetV2Dir(opts.Dir, alpha, opts.Offline)
	if err != nil {
		return nil, err
	}
	batch := opts.batchSize()
	key := fmt.Sprintf("%s|%g|%d|%d|%p", dir, alpha, size, batch, be)
	compiledMu.Lock()
	defer compiledMu.Unlock()
	m, ok := compiled[key]
	if !ok {
		if m, err = compileMobileNet(be, dir, alpha, size, batch); err != nil {
			return nil, err
		}
		compiled[key] = m
	}
	return &MobileNetV2{alpha: alpha, size: size, batch: batch, normalize: opts.Normalize, progress: opts.Progress, model: m}, nil
}

func compileMobileNet(be backends.Backend, dir string, alpha float64, size, batch int) (m *compiledMobileNet, err error) {
	ctx := mlctx.New()
	tm, err := tfjs.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("mobilenet_v2: %w", err)
	}
	got, err := mobilenetv2.LoadTFJSModel(ctx, tm)
	if err != nil {
		return nil, fmt.Errorf("mobilenet_v2: weights in %s: %w", dir, err)
	}
	if got != alpha {
		return nil, fmt.Errorf("mobilenet_v2: weights in %s are for alpha %g, but alpha %g was asked for (set Options.Width to %g)", dir, got, alpha, got)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mobilenet_v2: building the graph for alpha %g with weights from %s: %v", alpha, dir, r)
		}
	}()
	exec, err := mlctx.NewExec(be, ctx, func(ctx *mlctx.Context, images *graph.Node) *graph.Node {
		return mobilenetv2.Build(ctx, images, models.New().Classes(0).WithWidth(alpha).Size(size))
	})
	if err != nil {
		return nil, fmt.Errorf("mobilenet_v2: %w", err)
	}
	return &compiledMobileNet{exec: exec, dim: mobilenetv2.LastFilters(alpha), dir: dir, bName: be.Name()}, nil
}

// MobileNetV2Dir finds the TF.js weights folder for alpha: dir when given (it must hold model.json), else
// the shared folder's models/mobilenet_v2_035_tfjs (alpha 0.35 only), else the download cache, fetching
// Teachable Machine's published model unless offline.
func MobileNetV2Dir(dir string, alpha float64, offline bool) (string, error) {
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "model.json")); err != nil {
			return "", fmt.Errorf("mobilenet_v2: weights folder %s has no model.json (a TF.js layers model: model.json + weight shards): %w", dir, err)
		}
		return dir, nil
	}
	if alpha == 0.35 {
		if p, ok := assets.SharedPath(SharedMobileNetV2Dir...); ok {
			return p, nil
		}
	}
	modelURL := fmt.Sprintf("https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_%.2f_224_no_top/model.json", alpha)
	name := fmt.Sprintf("mobilenet_v2_%03d_tfjs", int(alpha*100+0.5))
	f := assets.NewFetcher()
	if offline {
		f.Offline(true)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	got, err := f.FetchTFJSModel(ctx, name, modelURL, nil)
	if err != nil {
		cache, _ := assets.CacheDir()
		return "", fmt.Errorf("mobilenet_v2: no weights for alpha %g. Either pass a folder holding model.json + weights "+
			"(embed.NewOptions().WithDir(DIR)), or set $%s to the project's shared folder (it must contain %s), "+
			"or let mlkit download %s into $%s (now %s; unset $%s if set). Download failed: %w",
			alpha, assets.SharedEnv, filepath.Join(SharedMobileNetV2Dir...), modelURL, assets.CacheEnv, cache, assets.OfflineEnv, err)
	}
	return got, nil
}

// Name returns "mobilenet_v2_035" for alpha 0.35, else "mobilenet_v2_<alpha*100>".
func (e *MobileNetV2) Name() string { return fmt.Sprintf("mobilenet_v2_%03d", int(e.alpha*100+0.5)) }

// Dim returns the feature size (1280 for alpha <= 1).
func (e *MobileNetV2) Dim() int { return e.model.dim }

// Describe says which weights and backend the embedder uses, for notebooks to print.
func (e *MobileNetV2) Describe() string {
	return fmt.Sprintf("%s: %d-d, %d px, batch %d, weights %s, backend %s", e.Name(), e.Dim(), e.size, e.batch, e.model.dir, e.model.bName)
}

// EmbedImages embeds imgs in batches of the configured size (the last one padded with blank images).
func (e *MobileNetV2) EmbedImages(imgs []image.Image) ([][]float32, error) {
	out := make([][]float32, 0, len(imgs))
	err := Batches(len(imgs), e.batch, e.progress, func(start, end int) error {
		x, err := mobilenetv2.PreprocessBatch(imgs[start:end], e.size, e.batch)
		if err != nil {
			return err
		}
		flat, err := e.model.run(x)
		if err != nil {
			return err
		}
		out = append(out, splitRows(flat, end-start, e.model.dim)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name(), err)
	}
	if e.normalize {
		for _, v := range out {
			L2Normalize(v)
		}
	}
	return out, nil
}

func (m *compiledMobileNet) run(x *tensors.Tensor) (flat []float32, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	outs, err := m.exec.Exec(x)
	if err != nil {
		return nil, fmt.Errorf("running MobileNetV2: %w", err)
	}
	return tensors.CopyFlatData[float32](outs[0])
}

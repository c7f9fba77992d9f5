package embed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/visionnb/visionnb/mlkit/assets"
	"github.com/visionnb/visionnb/mlkit/models/clip"
)

// CLIPViTB32 is the name of OpenAI's CLIP ViT-B/32 (image and text towers, 512-d vectors) in package zoo.
const CLIPViTB32 = "clip_vit_b32"

// CLIPDirEnv names the environment variable pointing at a local copy of the Hugging Face
// openai/clip-vit-base-patch32 folder (config.json, model.safetensors, tokenizer files).
const CLIPDirEnv = "MLKIT_CLIP_DIR"

// CLIPHubBase is where the CLIP ViT-B/32 files are downloaded from when no local copy is found.
const CLIPHubBase = "https://huggingface.co/openai/clip-vit-base-patch32/resolve/main/"

// clipFiles are the files of the Hugging Face folder that mlkit needs.
var clipFiles = []string{"config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json", "vocab.json", "merges.txt"}

var (
	clipMu     sync.Mutex
	clipModels = map[string]*clip.Model{}
)

// NewCLIP loads CLIP ViT-B/32 from opts.Dir (else CLIPDir's search) as a TextEmbedder (a *clip.Model),
// on opts.Backend with batches of opts.BatchSize (0: clip.DefaultBatchSize). Models loaded from one
// folder are shared in the process.
func NewCLIP(opts Options) (Embedder, error) {
	dir, err := CLIPDir(opts.Dir, opts.Offline || os.Getenv(assets.OfflineEnv) != "")
	if err != nil {
		return nil, err
	}
	clipMu.Lock()
	defer clipMu.Unlock()
	if m, ok := clipModels[dir]; ok {
		return m, nil
	}
	l := clip.NewLoader(dir).Name(CLIPViTB32)
	if opts.Backend != nil {
		l = l.Backend(opts.Backend)
	}
	if opts.BatchSize > 0 {
		l = l.BatchSize(opts.BatchSize)
	}
	m, err := l.Load()
	if err != nil {
		return nil, fmt.Errorf("clip: loading %s: %w", dir, err)
	}
	clipModels[dir] = m
	return m, nil
}

// CLIPAvailable reports whether CLIP ViT-B/32 weights are on this machine (a given folder, $MLKIT_CLIP_DIR
// or the download cache), without downloading anything.
func CLIPAvailable(dir string) bool {
	_, err := CLIPDir(dir, true)
	return err == nil
}

// CLIPDir finds the CLIP ViT-B/32 folder: dir when given, else $MLKIT_CLIP_DIR, else the download cache
// (downloading the files from the Hugging Face hub into it unless offline).
func CLIPDir(dir string, offline bool) (string, error) {
	for _, d := range []string{dir, os.Getenv(CLIPDirEnv)} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "model.safetensors")); err != nil {
			return "", fmt.Errorf("clip: %s has no model.safetensors (download openai/clip-vit-base-patch32 from the Hugging Face hub into it): %w", d, err)
		}
		return d, nil
	}
	cache, err := assets.CacheDir()
	if err == nil {
		d := filepath.Join(cache, CLIPViTB32)
		if _, err := os.Stat(filepath.Join(d, "model.safetensors")); err == nil {
			return d, nil
		}
	}
	how := fmt.Sprintf("get openai/clip-vit-base-patch32 (e.g. `huggingface-cli download openai/clip-vit-base-patch32 --local-dir DIR`) "+
		"and set $%s=DIR, or pass embed.NewOptions().WithDir(DIR); with internet access mlkit downloads it (605 MB) into $%s", CLIPDirEnv, assets.CacheEnv)
	if offline {
		return "", fmt.Errorf("clip: no CLIP ViT-B/32 weights on this machine: %s", how)
	}
	b := assets.Bundle{Name: CLIPViTB32}
	for _, f := range clipFiles {
		b.Files = append(b.Files, assets.File{URL: CLIPHubBase + f, Name: f})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	got, err := assets.NewFetcher().FetchBundle(ctx, b)
	if err != nil {
		return "", fmt.Errorf("clip: downloading CLIP ViT-B/32 failed (%w); %s", err, how)
	}
	return got, nil
}

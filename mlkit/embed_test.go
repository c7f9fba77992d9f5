package mlkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/ingest"
	"github.com/visionnb/visionnb/mlkit/store"
)

// TestEmbedChecksBlobsBeforeDecoding: embedding decodes stored blobs with the upload limits, so a blob
// swapped for a pixel bomb after its upload fails with the reason and the input's name instead of
// allocating 37 GiB.
func TestEmbedChecksBlobsBeforeDecoding(t *testing.T) {
	t.Setenv(HomeEnv, t.TempDir())
	photos := t.TempDir()
	if err := os.WriteFile(filepath.Join(photos, "victim.png"), noisePNG(t, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := Create("embedbomb")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Upload().Folder(photos).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ins, err := app.st.Inputs(context.Background(), store.InputFilter{})
	if err != nil || len(ins) != 1 {
		t.Fatalf("inputs %v %v", ins, err)
	}
	if err := os.WriteFile(app.st.BlobPath(ins[0].SHA256), pixelBombPNG(t, 100000, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = app.Embed(countingEmbedderName)
	if ingest.ReasonOf(err) != ingest.ReasonTooManyPixels || !strings.Contains(err.Error(), "victim.png") {
		t.Fatalf("embedding a swapped blob: %v", err)
	}
}

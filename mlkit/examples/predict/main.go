// Command predict classifies image files with a saved mlkit model folder (an exported model, or an app's
// models/<name> folder), printing one line per file:
//
//	go run ./predict MODEL_DIR photo1.jpg photo2.png
//
// Files are read with the same limits as an mlkit upload (size, pixels checked on the header before
// decoding, JPEG/PNG/GIF/BMP/WebP only): a file that fails them is reported with the reason and skipped.
// It exits with status 1 when no file could be predicted. An exported model folder is its own Go module
// (see its go.mod); run this from inside that folder.
package main

import (
	"fmt"
	"os"

	"github.com/visionnb/visionnb/mlkit"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: predict MODEL_DIR IMAGE...")
		os.Exit(2)
	}
	p, err := mlkit.LoadPredictor(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	preds, err := p.PredictFiles(os.Args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, pr := range preds {
		if pr.Skipped() {
			fmt.Fprintf(os.Stderr, "%s: skipped: %s\n", pr.File, pr.Err)
			continue
		}
		fmt.Printf("%s: %s (%.3f)\n", pr.File, pr.Class, pr.Confidence)
	}
	sum := mlkit.SummarizePredictions(preds)
	fmt.Fprintln(os.Stderr, sum)
	if sum.Predicted == 0 {
		os.Exit(1)
	}
}

// Command predict classifies image files with a saved mlkit model folder (an exported model, or an app's
// models/<name> folder):
//
//	go run ./predict MODEL_DIR photo1.jpg photo2.png
//
// It needs the github.com/visionnb/visionnb module (go get it, or run it inside the repository).
package main

import (
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
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
	for _, path := range os.Args[2:] {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			continue
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, path, err)
			continue
		}
		probs, err := p.PredictImages([]image.Image{img})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		best := 0
		for c := range probs[0] {
			if probs[0][c] > probs[0][best] {
				best = c
			}
		}
		fmt.Printf("%s: %s (%.3f)\n", path, p.Card.Classes[best], probs[0][best])
	}
}

package models_test

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/visionnb/visionnb/mlkit/backend"
	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/efficientnet"
	"github.com/visionnb/visionnb/mlkit/models/mobilenetv2"
	"github.com/visionnb/visionnb/mlkit/models/resnet"
)

// pixels is a [1, 2, 2, 3] batch of values in [0, 1].
var pixels = []float32{0, 0.25, 0.5, 0.75, 1, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 0.9}

func run(t *testing.T, fn func(x *graph.Node) *graph.Node) []float32 {
	t.Helper()
	b, _, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := graph.NewExec(b, fn)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(pixels, 1, 2, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestNormalizeIsMeanStd: Normalize computes (x - mean) / std with the statistics MeanStd reports, for
// every normalisation, and the ImageNet statistics are torchvision's.
func TestNormalizeIsMeanStd(t *testing.T) {
	if models.ImageNetMean != [3]float32{0.485, 0.456, 0.406} || models.ImageNetStd != [3]float32{0.229, 0.224, 0.225} {
		t.Fatalf("ImageNet statistics %v %v differ from torchvision's", models.ImageNetMean, models.ImageNetStd)
	}
	for _, n := range []models.Normalization{models.NormImageNet, models.NormMinusOneOne, models.NormUnit} {
		mean, std, err := n.MeanStd()
		if err != nil {
			t.Fatal(err)
		}
		got := run(t, func(x *graph.Node) *graph.Node { return models.Normalize(x, n) })
		for i, v := range pixels {
			want := (v - mean[i%3]) / std[i%3]
			if math.Abs(float64(got[i]-want)) > 1e-6 {
				t.Errorf("%s: value %d: Normalize gives %g, (x-mean)/std %g", n, i, got[i], want)
			}
		}
	}
}

// TestNormalizationUnknown: an unknown normalisation is an error for Validate and MeanStd and a panic
// (naming it) for Normalize.
func TestNormalizationUnknown(t *testing.T) {
	bad := models.Normalization("caffe")
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "caffe") {
		t.Errorf("Validate: %v", err)
	}
	if _, _, err := bad.MeanStd(); err == nil {
		t.Error("MeanStd accepted an unknown normalisation")
	}
	b, _, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := graph.NewExec(b, func(x *graph.Node) *graph.Node { return models.Normalize(x, bad) })
	if err == nil {
		_, err = exec.Exec(tensors.FromFlatDataAndDimensions(pixels, 1, 2, 2, 3))
	}
	if err == nil || !strings.Contains(err.Error(), "caffe") {
		t.Errorf("Normalize with an unknown normalisation: %v", err)
	}
}

// TestFamilyPreprocess: every family's Preprocess (one signature) is Normalize with its normalisation.
func TestFamilyPreprocess(t *testing.T) {
	for _, c := range []struct {
		name string
		pre  func(*graph.Node) *graph.Node
		norm models.Normalization
	}{
		{"resnet", resnet.Preprocess, models.NormImageNet},
		{"efficientnet", efficientnet.Preprocess, models.NormImageNet},
		{"mobilenetv2", mobilenetv2.Preprocess, models.NormMinusOneOne},
	} {
		got := run(t, c.pre)
		want := run(t, func(x *graph.Node) *graph.Node { return models.Normalize(x, c.norm) })
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s.Preprocess value %d = %g, Normalize(%s) = %g", c.name, i, got[i], c.norm, want[i])
			}
		}
	}
}

package view

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// sampleCharts returns one of each chart, filled with plausible tutorial data.
func sampleCharts() map[string]Renderable {
	epochs := 20
	trainLoss, valLoss, trainAcc, valAcc := make([]float64, epochs), make([]float64, epochs), make([]float64, epochs), make([]float64, epochs)
	for i := range epochs {
		e := float64(i)
		trainLoss[i] = 1.6*math.Exp(-e/5) + 0.08
		valLoss[i] = 1.5*math.Exp(-e/6) + 0.25 + 0.01*e
		trainAcc[i] = 0.98 - 0.7*math.Exp(-e/4)
		valAcc[i] = 0.91 - 0.65*math.Exp(-e/4.5)
	}
	roc := ROC()
	pr := PR()
	for k, name := range []string{"linear probe (AUC 0.97)", "small CNN (AUC 0.88)", "fine-tuned (AUC 0.99)"} {
		p := []float64{3, 1.2, 8}[k]
		var fx, fy, rx, ry []float64
		for i := 0; i <= 50; i++ {
			t := float64(i) / 50
			fx, fy = append(fx, t), append(fy, 1-math.Pow(1-t, p))
			rx, ry = append(rx, t), append(ry, 1-0.6*math.Pow(t, p+1))
		}
		roc.Series(name, fx, fy)
		pr.Series(name, rx, ry)
	}
	labels := []string{"butterfly", "dog", "elephant", "horse", "sheep"}
	counts := [][]int{{28, 1, 0, 0, 1}, {0, 25, 1, 3, 1}, {0, 1, 27, 1, 1}, {1, 4, 0, 24, 1}, {0, 2, 1, 1, 26}}
	return map[string]Renderable{
		"line-loss": Line().Title("Loss per epoch").XLabel("epoch").YLabel("cross-entropy loss").
			Values("train", trainLoss).Values("validation", valLoss).Dashed(),
		"line-accuracy": Line().Title("Accuracy per epoch").XLabel("epoch").YLabel("accuracy").YRange(0, 1).
			Values("train", trainAcc).Values("validation", valAcc).Dashed(),
		"roc": roc,
		"pr":  pr,
		"bars": Bars().Title("Model comparison (test set)").YLabel("score").YRange(0, 1).
			Categories("accuracy", "macro precision", "macro recall", "macro F1").
			Group("linear probe", 0.93, 0.931, 0.928, 0.929).
			Group("small CNN", 0.71, 0.702, 0.713, 0.705).
			Group("fine-tuned", 0.965, 0.963, 0.966, 0.964),
		"confusion-counts": ConfusionMatrix(labels, counts).Title("Confusion matrix (test, counts)"),
		"confusion-probs": Heatmap(probMatrix(counts)).RowLabels(labels...).ColLabels(labels...).
			XLabel("Predicted").YLabel("Actual").Format("%.2f").Title("Average predicted probability"),
	}
}

func probMatrix(counts [][]int) [][]float64 {
	m := make([][]float64, len(counts))
	for i, row := range counts {
		tot := 0
		for _, v := range row {
			tot += v
		}
		m[i] = make([]float64, len(row))
		for j, v := range row {
			m[i][j] = float64(v) / float64(tot)
		}
	}
	return m
}

// TestWriteSamples writes one PNG (and an interactive HTML) of each chart into $VIEW_SAMPLES_DIR, for
// people to look at. It is skipped unless that variable is set.
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("VIEW_SAMPLES_DIR")
	if dir == "" {
		t.Skip("set VIEW_SAMPLES_DIR to write sample charts")
	}
	charts := sampleCharts()
	for name, r := range charts {
		if err := Save(r, filepath.Join(dir, name+".png")); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	table := Table("model", "accuracy", "macro F1", "train time").
		Row("linear probe", 0.93, 0.929, "12s").Row("small CNN", 0.71, 0.705, "4m10s").
		Row("fine-tuned", 0.965, 0.964, "31m").Format(1, "%.3f").Format(2, "%.3f").HighlightRow(2).
		Title("Test-set results").Caption("150 test images, 5 classes")
	labels := []string{"butterfly", "dog", "elephant", "horse", "sheep"}
	cm := func(title string, d int) *HeatmapChart {
		return ConfusionMatrix(labels, [][]int{{28, d, 0, 0, 1}, {0, 25, 1, 3 + d, 1}, {0, 1, 27, 1, 1}, {1, 4, 0, 24, 1}, {0, 2, 1, 1, 26 - d}}).
			Title(title).Size(400, 340)
	}
	outputs := map[string]Renderable{
		"table.png":           table,
		"table.html":          table,
		"row-confusion.png":   Row(cm("linear probe", 0), cm("small CNN", 5), cm("fine-tuned", 1)),
		"interactive.html":    Column(Row(cm("linear probe", 0).Interactive(), cm("small CNN", 5).Interactive()), charts["bars"].(*BarChart).Interactive(), charts["roc"].(*LineChart).Interactive(), charts["line-loss"].(*LineChart).Interactive(), table),
		"line-small-data.png": Line().Title("One epoch").Values("train", []float64{0.7}),
		"confusion-10.png":    bigConfusion(),
	}
	for name, r := range outputs {
		if err := Save(r, filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// bigConfusion is a 10-class confusion matrix with long labels (vertical column labels).
func bigConfusion() *HeatmapChart {
	labels := []string{"golden retriever", "german shepherd", "african elephant", "arabian horse", "merino sheep",
		"monarch butterfly", "tabby cat", "red fox", "grey wolf", "brown bear"}
	counts := make([][]int, len(labels))
	for i := range counts {
		counts[i] = make([]int, len(labels))
		for j := range counts[i] {
			counts[i][j] = (i*7 + j*3) % 5
		}
		counts[i][i] = 40 + i*9
	}
	return ConfusionMatrix(labels, counts).Title("10 classes, long labels")
}

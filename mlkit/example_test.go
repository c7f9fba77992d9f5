package mlkit

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand"
	"os"
	"path/filepath"
)

// Create an app, upload a folder of photos (one sub-folder per class) and look at the counts.
func ExampleCreate() {
	photos, cleanup := examplePhotos()
	defer cleanup()
	app := Must(Create(filepath.Join(photos, "..", "app")))
	defer app.Close()
	rep := Must(app.Upload().Folder(photos).LabelsFromFolders().Run(context.Background()))
	fmt.Println(rep.Summary())
	st := Must(app.Stats())
	fmt.Println(st.Inputs, "inputs,", st.Unlabelled, "unlabelled,", len(st.Classes), "classes")
	// Output:
	// 36 added, 0 duplicates, 0 rejected; labels: cat 12, cow 12, dog 12
	// 36 inputs, 0 unlabelled, 3 classes
}

// Label by hand, relabel a mistake; the history keeps every label an input had.
func ExampleApp_Label() {
	app, cleanup := exampleApp(false)
	defer cleanup()
	in := Must(app.InputsLabelled("cat"))[0]
	fmt.Println(Must(app.Relabel("dog", in.ID)), "relabelled")
	fmt.Println(Must(app.Label("cat", in.ID)), "labelled")
	for _, a := range Must(app.History(in.ID)) {
		fmt.Println(a.Concept, "removed:", !a.RemovedAt.IsZero())
	}
	// Output:
	// 1 relabelled
	// 1 labelled
	// cat removed: true
	// dog removed: false
	// cat removed: false
}

// Split the labelled photos into train, validation and test; running it again returns the same version.
func ExampleApp_Split() {
	app, cleanup := exampleApp(false)
	defer cleanup()
	v := Must(app.Split("animals", Fractions(0.5, 0.25, 0.25).WithSeed(42)))
	fmt.Printf("%s v%d: train %d, validation %d, test %d\n", v.Dataset, v.Number,
		v.Total(SplitTrain), v.Total(SplitValidation), v.Total(SplitTest))
	again := Must(app.Split("animals", Fractions(0.5, 0.25, 0.25).WithSeed(42)))
	fmt.Println("again: version", again.Number, "reused:", again.Reused)
	sample := Must(app.SplitSample("animals", SplitTest, 3))
	fmt.Println("sample of", len(sample.Inputs), "of", sample.Total, "test photos")
	// Output:
	// animals v1: train 18, validation 9, test 9
	// again: version 1 reused: true
	// sample of 3 of 9 test photos
}

// Search for photos like a few examples and label the top of the ranking.
func ExampleApp_Search() {
	app, cleanup := exampleApp(true)
	defer cleanup()
	cats := Must(app.InputsLabelled("cat"))
	Must(app.Unlabel("", cats[3].ID, cats[4].ID, cats[5].ID))    // three cats lose their label
	Must(app.Unlabel("", Must(app.InputsLabelled("dog"))[0].ID)) // and a dog
	res := Must(app.Search(DefaultEmbedder).Like(cats[0].ID, cats[1].ID, cats[2].ID).Unlabelled().Run())
	fmt.Println(res.Query, "ranks", res.Len(), "unlabelled photos")
	sel := res.Select().Top(3)
	fmt.Println("labelled", Must(sel.LabelAs("cat")), "as cat")
	fmt.Println("cats labelled now:", len(Must(app.InputsLabelled("cat"))))
	// Output:
	// like:1,2,3 ranks 4 unlabelled photos
	// labelled 3 as cat
	// cats labelled now: 12
}

// Train a head on cached embeddings, evaluate, select on validation and test the selected model once.
func ExampleApp_Evaluate() {
	app, cleanup := exampleApp(true)
	defer cleanup()
	Must(app.Split("animals", Fractions(0.5, 0.25, 0.25).WithSeed(42)))
	for _, name := range []string{"small", "large"} {
		Must(app.Train(name).OnDataset("animals").Head(DefaultEmbedder).Epochs(3).Quiet().Run())
	}
	e := Must(app.Evaluate("small", "animals", SplitValidation))
	fmt.Println(e.Model, "on", e.Split+":", e.Report.Examples, "photos")
	ch := Must(app.Select("animals", SplitValidation, MetricMacroROCAUC, "small", "large"))
	final := Must(app.Test("animals"))
	fmt.Println("tested the selected model:", final.Model == ch.Winner, "on", final.Report.Examples, "photos")
	_, err := app.Evaluate(map[string]string{"small": "large", "large": "small"}[ch.Winner], "animals", SplitTest)
	fmt.Println("another model on test refused:", err != nil)
	// Output:
	// small on validation: 9 photos
	// tested the selected model: true on 9 photos
	// another model on test refused: true
}

// exampleApp makes an app in a temporary folder with 36 labelled photos (cat, cow, dog), and, when
// embedded, a DefaultEmbedder vector cached for each (classEmbeddings), so that nothing is
// downloaded. Notices go nowhere. cleanup removes it all.
func exampleApp(embedded bool) (*App, func()) {
	photos, rm := examplePhotos()
	app := Must(Create(filepath.Join(photos, "..", "app")))
	Must(app.Upload().Folder(photos).LabelsFromFolders().Run(context.Background()))
	if embedded {
		Check(classEmbeddings(app))
	}
	old := Messages
	Messages = io.Discard
	return app, func() { Messages = old; app.Close(); rm() }
}

// examplePhotos writes 36 small noise PNGs, 12 per class folder, uploaded in the order cat, cow, dog, ...
func examplePhotos() (string, func()) {
	root := Must(os.MkdirTemp("", "mlkit-example-"))
	dir := filepath.Join(root, "photos")
	classes := []string{"cat", "cow", "dog"}
	for i := 0; i < 36; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		rand.New(rand.NewSource(int64(i))).Read(img.Pix)
		var b bytes.Buffer
		Check(png.Encode(&b, img))
		p := filepath.Join(dir, classes[i%3], fmt.Sprintf("%02d.png", i))
		Check(os.MkdirAll(filepath.Dir(p), 0o755))
		Check(os.WriteFile(p, b.Bytes(), 0o644))
	}
	return dir, func() { os.RemoveAll(root) }
}

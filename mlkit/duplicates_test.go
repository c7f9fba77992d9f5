package mlkit

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/internal/testshared"
	"github.com/visionnb/visionnb/mlkit/internal/vecmath"
	"github.com/visionnb/visionnb/mlkit/phash"
	"github.com/visionnb/visionnb/mlkit/view"
)

// plantedTransforms are the near-copies of a photo the leakage check must catch (the list).
var plantedTransforms = []struct {
	name string
	f    func(image.Image) (image.Image, error)
}{
	{"half", func(m image.Image) (image.Image, error) {
		return imaging.Resize(m, m.Bounds().Dx()/2, 0, imaging.Lanczos), nil
	}},
	{"q50", func(m image.Image) (image.Image, error) {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 50}); err != nil {
			return nil, err
		}
		return jpeg.Decode(&b)
	}},
	{"crop85", func(m image.Image) (image.Image, error) {
		return imaging.CropCenter(m, m.Bounds().Dx()*85/100, m.Bounds().Dy()*85/100), nil
	}},
	{"mirror", func(m image.Image) (image.Image, error) { return imaging.FlipH(m), nil }},
	{"bright15", func(m image.Image) (image.Image, error) { return imaging.AdjustBrightness(m, 15), nil }},
	{"rot4", func(m image.Image) (image.Image, error) { return imaging.Rotate(m, 4, image.Black), nil }},
}

// realCopies are the pairs of shared photos that are near copies of each other (file names in id order).
var realCopies = map[string]bool{
	"dog_popanimals_0016.jpg dog_popanimals_0027.jpg":   true,
	"horse_animals10_0006.jpg horse_animals10_0008.jpg": true,
}

// TestNearDuplicatesFindPlantedCopies calibrates and checks eval.DefaultDuplicateRule on the shared
// photos: 6 transforms (half size, JPEG q50, 85% centre crop, mirror, brightness +15, 4 degree rotation)
// of the first 4 photos of each class must be found (>= 95%), and no two distinct shared photos of one
// class may be called near duplicates, but for the two real near copies among them (looked at: the
// same puppy photo cropped, the same horse shot twice in one scene). Embedding cosine alone (>= 0.97,
// the check before) finds 22 of the 120 copies.
func TestNearDuplicatesFindPlantedCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: embeds ~600 real photos")
	}
	quietMessages(t)
	photos := testshared.Animals5(t)
	testshared.MobileNetV2(t)
	view.SetOutputDir(t.TempDir())
	copies := t.TempDir()
	classes := []string{"butterfly", "dog", "elephant", "horse", "sheep"}
	for _, c := range classes {
		files, err := filepath.Glob(filepath.Join(photos, c, "*.jpg"))
		if err != nil || len(files) < 4 {
			t.Fatalf("photos of %s: %v %v", c, files, err)
		}
		sort.Strings(files)
		if err := os.MkdirAll(filepath.Join(copies, c), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files[:4] {
			src, err := imaging.Open(f, imaging.AutoOrientation(true))
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range plantedTransforms {
				m, err := tr.f(src)
				if err != nil {
					t.Fatal(err)
				}
				name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)) + "~" + tr.name + ".jpg"
				if err := imaging.Save(m, filepath.Join(copies, c, name), imaging.JPEGQuality(95)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	app, err := Create(filepath.Join(t.TempDir(), "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	for _, dir := range []string{photos, copies} {
		if _, err := app.Upload().Folder(dir).LabelsFromFolders().Run(bg); err != nil {
			t.Fatal(err)
		}
	}
	emb, err := app.Embed(DefaultEmbedder)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := app.Inputs()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	byFile := map[string]int64{} // class/stem of an original -> id
	for _, in := range ins {
		ids = append(ids, in.ID)
		if !strings.Contains(in.FileName, "~") {
			byFile[truth(in)+"/"+strings.TrimSuffix(in.FileName, filepath.Ext(in.FileName))] = in.ID
		}
	}
	hashes, err := app.perceptualHashes(ids)
	if err != nil {
		t.Fatal(err)
	}
	unit := map[int64][]float32{}
	for _, id := range ids {
		v := append([]float32(nil), emb.Vector(id)...)
		vecmath.Normalize(v)
		unit[id] = v
	}
	cos := func(a, b int64) float32 {
		s := float32(0)
		for i, x := range unit[a] {
			s += x * unit[b][i]
		}
		return s
	}
	rule := eval.DefaultDuplicateRule
	match := func(a, b int64) (bool, float32, int) {
		s, d := cos(a, b), hashes[a].Distance(hashes[b])
		sp := func(id int64) []eval.SplitVectors {
			return []eval.SplitVectors{{Split: "x", IDs: []int64{id}, Vectors: [][]float32{unit[id]}, Hashes: []phash.Pair{hashes[id]}}}
		}
		pairs, err := eval.NearDuplicates(append(sp(a), sp(b)[0]), rule)
		if err != nil {
			t.Fatal(err)
		}
		return len(pairs) == 1, s, d
	}
	found, foundByCosine, planted := 0, 0, 0
	missed := map[string]int{}
	for _, in := range ins {
		stem, tr, ok := strings.Cut(strings.TrimSuffix(in.FileName, filepath.Ext(in.FileName)), "~")
		if !ok {
			continue
		}
		orig, ok := byFile[truth(in)+"/"+stem]
		if !ok {
			t.Fatalf("copy %s: no original %s", in.FileName, stem)
		}
		planted++
		m, s, d := match(orig, in.ID)
		t.Logf("copy %s: cosine %.3f, hash distance %d", in.FileName, s, d)
		if m {
			found++
		} else {
			missed[tr]++
			t.Logf("missed copy %s: cosine %.3f, hash distance %d", in.FileName, s, d)
		}
		if s >= eval.DefaultLeakageThreshold {
			foundByCosine++
		}
	}
	t.Logf("planted copies: %d of %d found by the rule %+v, %d by cosine >= %.2f alone; missed by transform %v",
		found, planted, rule, foundByCosine, eval.DefaultLeakageThreshold, missed)
	if planted != 4*len(classes)*len(plantedTransforms) || float64(found) < 0.95*float64(planted) {
		t.Errorf("found %d of %d planted copies, want >= 95%%", found, planted)
	}
	// Distinct photos of one class: no pair may match.
	var originals []int64
	for _, id := range byFile {
		originals = append(originals, id)
	}
	sort.Slice(originals, func(i, j int) bool { return originals[i] < originals[j] })
	cls := map[int64]string{}
	name := map[int64]string{}
	for _, in := range ins {
		cls[in.ID], name[in.ID] = truth(in), in.FileName
	}
	falsePairs, pairs, realFound := 0, 0, 0
	var near []string
	for i, a := range originals {
		for _, b := range originals[i+1:] {
			if cls[a] != cls[b] {
				continue
			}
			pairs++
			m, s, d := match(a, b)
			if m && realCopies[name[a]+" "+name[b]] {
				t.Logf("real near copies %s and %s: cosine %.3f, hash distance %d", name[a], name[b], s, d)
				realFound++
			} else if m {
				falsePairs++
				t.Errorf("distinct photos %s and %s (%s) match: cosine %.3f, hash distance %d", name[a], name[b], cls[a], s, d)
			}
			if d <= rule.CombinedDistance+4 || s >= 0.85 {
				near = append(near, fmt.Sprintf("%.3f/%d %s~%s", s, d, name[a], name[b]))
			}
		}
	}
	if realFound != len(realCopies) {
		t.Errorf("found %d of the %d real near copies among the shared photos", realFound, len(realCopies))
	}
	sort.Strings(near)
	t.Logf("%d distinct same-class pairs, %d match; the closest: %v", pairs, falsePairs, near[max(0, len(near)-15):])

	// Split keeps every copy with its original: no test image has a near duplicate in train or validation.
	v, err := app.Split("animals", Fractions(0.7, 0.15, 0.15).WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	members, err := app.st.Members(bg, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if leaks := app.testLeaks("animals", v.Number, members); len(leaks) > 0 || v.Regrouped == 0 {
		t.Errorf("split with near-duplicate groups: %d inputs regrouped, %d pairs still cross into test: %+v", v.Regrouped, len(leaks), leaks[:min(3, len(leaks))])
	}
	t.Logf("split: %d inputs moved to join their near duplicates; counts %v", v.Regrouped, v.Counts)

	// A split that ignores them leaks, and Test refuses it until the leak is acknowledged.
	lv, err := app.Split("leaky", SplitSpec{Fractions: []float64{0.7, 0.15, 0.15}, Seed: 7, Together: map[int64]int64{}})
	if err != nil {
		t.Fatal(err)
	}
	if members, err = app.st.Members(bg, lv.ID); err != nil {
		t.Fatal(err)
	}
	leaks := app.testLeaks("leaky", lv.Number, members)
	if len(leaks) == 0 {
		t.Fatal("a split that ignores near duplicates: no leak into test found")
	}
	if _, err := app.Train("h").Head(DefaultEmbedder).OnDataset("leaky").Epochs(5).Quiet().Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Select("leaky", SplitValidation, MetricAccuracy, "h"); err != nil {
		t.Fatal(err)
	}
	_, err = app.Test("leaky")
	var le *LeakageError
	if !errors.Is(err, ErrLeakage) || !errors.As(err, &le) || le.TestImages != testImagesIn(leaks) || !strings.Contains(err.Error(), "mlkit.AcknowledgeLeakage(reason)") {
		t.Fatalf("Test with %d leaked test images: %v", testImagesIn(leaks), err)
	}
	if runs, err := app.st.TestRuns(bg); err != nil || len(runs) != 0 {
		t.Fatalf("a refused test was recorded: %v %v", runs, err)
	}
	e, err := app.Test("leaky", AcknowledgeLeakage("copies planted by the test"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Leaked != le.TestImages || !strings.Contains(e.Flag(), "acknowledged (copies planted by the test)") {
		t.Errorf("acknowledged test: leaked %d, flag %q; want %d and the reason", e.Leaked, e.Flag(), le.TestImages)
	}
	again, err := app.Test("leaky")
	if err != nil || again.ID != e.ID || again.Flag() != e.Flag() {
		t.Fatalf("re-run of the acknowledged test: %v, %+v; want the recorded, flagged result", err, again)
	}
	t.Logf("leaky split: %d pairs with a test image, %d test images; flag %q", len(leaks), le.TestImages, e.Flag())
}

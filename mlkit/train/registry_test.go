package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/models"
	"github.com/visionnb/visionnb/mlkit/models/zoo"
)

// TestDeepRefusesUnbuildableSpecs: Fit refuses a spec without Build (a pretrained-only model) or without
// a known normalisation before touching any data, saying which.
func TestDeepRefusesUnbuildableSpecs(t *testing.T) {
	classes := []string{"a", "b"}
	ex := []Example{{ID: 1, Path: "a.png", Label: 0}, {ID: 2, Path: "b.png", Label: 1}}
	for _, c := range []struct {
		spec zoo.Spec
		want string
	}{
		{zoo.MustLookup("clip_vit_b32"), "pretrained-only"},
		{zoo.Spec{Name: "nonorm", Build: testDenseFamily.Build}, "normalization"},
		{zoo.Spec{Name: "badnorm", Build: testDenseFamily.Build, Normalization: "caffe"}, "caffe"},
	} {
		_, err := Deep(c.spec, models.New().Size(16)).Data(classes, ex, nil).With(DeepDefaults().Quiet()).Fit()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.spec.Name) {
			t.Errorf("Deep(%s).Fit: %v, want an error naming it and containing %q", c.spec.Name, err, c.want)
		}
	}
}

// TestLoadUnknownFamily: a saved deep run whose family is not in the registry fails to load with an error
// naming the family, the file it came from and the registered names.
func TestLoadUnknownFamily(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"kind":"deep","family":"no_such_net","classes":["a","b"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "no_such_net") || !strings.Contains(err.Error(), ConfigFile) ||
		!strings.Contains(err.Error(), "resnet50") {
		t.Errorf("Load: %v", err)
	}
}

package mobilenetv2

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/visionnb/visionnb/mlkit/weights/tfjs"
)

// kerasToGoMLX maps Keras batch-normalisation weight names to the GoMLX batchnorm layer's variable names.
var kerasToGoMLX = map[string]string{
	"gamma": "scale", "beta": "offset", "moving_mean": "mean", "moving_variance": "variance",
}

// pretrainedAverageWeight is written to each batch-norm "avg_weight" variable when weights are loaded, so
// that fine-tuning updates the loaded moving statistics with Keras' momentum (0.999) instead of
// replacing them with the first batch's (GoMLX debiases the momentum by this count).
const pretrainedAverageWeight = 1 / (1 - BatchNormMomentum)

// LoadTFJS reads the TF.js layers model in dir (model.json + shards), detects its width multiplier, checks
// every backbone weight's name and shape against the architecture, and stores the weights in ctx's current
// scope under the names Build uses. Weights of other layers in the file (e.g. a Teachable Machine head)
// are ignored. It may be called before or after Build; a variable Build already created must have the
// same shape, so loading alpha 0.35 weights into a graph built for alpha 1.0 is an error.
func LoadTFJS(ctx *context.Context, dir string) error {
	m, err := tfjs.Load(dir)
	if err != nil {
		return fmt.Errorf("mobilenetv2: loading TF.js weights from %s: %w", dir, err)
	}
	if _, err := LoadTFJSModel(ctx, m); err != nil {
		return fmt.Errorf("mobilenetv2: weights in %s: %w", dir, err)
	}
	return nil
}

// LoadTFJSModel is LoadTFJS for an already parsed model; it returns the detected width multiplier.
func LoadTFJSModel(ctx *context.Context, m *tfjs.Model) (alpha float64, err error) {
	alpha, err = DetectWidth(m)
	if err != nil {
		return 0, err
	}
	want := WeightShapes(alpha)
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	ctx = ctx.Checked(false)
	for _, name := range names {
		t := m.Weights[name]
		layer, wname, ok := strings.Cut(name, "/")
		if !ok {
			return 0, fmt.Errorf("weight name %q has no layer prefix", name)
		}
		isBN := false
		if v, ok := kerasToGoMLX[wname]; ok {
			wname, isBN = v, true
		}
		value := tensors.FromFlatDataAndDimensions(slices.Clone(t.Data), t.Shape...)
		if err := setVariable(ctx.In(layer), wname, value); err != nil {
			return 0, fmt.Errorf("weight %q: %w", name, err)
		}
		if isBN && wname == "mean" {
			avg := make([]float32, t.Size())
			for i := range avg {
				avg[i] = pretrainedAverageWeight
			}
			if err := setVariable(ctx.In(layer), "avg_weight", tensors.FromFlatDataAndDimensions(avg, t.Shape...)); err != nil {
				return 0, fmt.Errorf("weight %q: %w", layer+"/avg_weight", err)
			}
		}
	}
	return alpha, nil
}

// setVariable creates the variable with value, or overwrites an existing one after checking its shape.
func setVariable(ctx *context.Context, name string, value *tensors.Tensor) error {
	if v := ctx.GetVariableByScopeAndName(ctx.Scope(), name); v != nil {
		if !v.Shape().Equal(value.Shape()) {
			return fmt.Errorf("variable %s/%s has shape %s in the context but the file has %s (built for another width?)",
				ctx.Scope(), name, v.Shape(), value.Shape())
		}
		if err := v.SetValue(value); err != nil {
			return fmt.Errorf("setting %s/%s: %w", ctx.Scope(), name, err)
		}
		return nil
	}
	ctx.VariableWithValue(name, value)
	return nil
}

// DetectWidth returns the alpha in SupportedWidths whose backbone weights (names and shapes) the model
// holds, or an error that lists what does not match the closest candidate.
func DetectWidth(m *tfjs.Model) (float64, error) {
	bestAlpha, bestProblems := 0.0, []string(nil)
	for _, alpha := range SupportedWidths {
		var problems []string
		for name, shape := range WeightShapes(alpha) {
			t, ok := m.Weights[name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("missing %s", name))
			case !slices.Equal(t.Shape, shape):
				problems = append(problems, fmt.Sprintf("%s has shape %v, want %v", name, t.Shape, shape))
			}
		}
		if len(problems) == 0 {
			return alpha, nil
		}
		if bestProblems == nil || len(problems) < len(bestProblems) {
			bestAlpha, bestProblems = alpha, problems
		}
	}
	sort.Strings(bestProblems)
	if len(bestProblems) > 5 {
		bestProblems = append(bestProblems[:5], fmt.Sprintf("... (%d more)", len(bestProblems)-5))
	}
	return 0, fmt.Errorf("not a Keras MobileNetV2 of width %v: closest is alpha %g, but %s",
		SupportedWidths, bestAlpha, strings.Join(bestProblems, "; "))
}

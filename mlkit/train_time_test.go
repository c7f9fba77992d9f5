package mlkit

import (
	"strings"
	"testing"
	"time"

	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/train"
	"github.com/visionnb/visionnb/mlkit/view"
)

// TestTrainedModelTimeFormat: a model's summary line gives its training time as progress lines do
// ("4m29s", view.ShortDuration), not as seconds ("269.4s"), and the progress line's last message gives
// the same time.
func TestTrainedModelTimeFormat(t *testing.T) {
	m := &TrainedModel{Model: store.Model{Name: "resnet50", Kind: KindDeep, Family: "resnet50", Dataset: "animals", Version: 1,
		Summary: []byte(`{"backend":"xla","seconds":269.4,"examples_per_second":50,"epochs":10,"val_accuracy":0.7}`)}}
	line := m.String()
	if !strings.Contains(line, "10 epochs in 4m29s (") || strings.Contains(line, "269.4") {
		t.Errorf("String() = %q, want the time as 4m29s", line)
	}
	p := newTrainProgress("resnet50")
	p.bar = view.NewProgress(10).Writer(nil)
	p.done(&train.Result{Elapsed: 269400 * time.Millisecond, BestEpoch: 1,
		History: []train.EpochStats{{Epoch: 1, HasVal: true, ValAccuracy: 0.7}}})
	if got := p.bar.String(); !strings.Contains(got, "4m29s in all") || !strings.Contains(got, "validation accuracy 0.700") {
		t.Errorf("final progress line %q, want the run's time 4m29s and its validation accuracy", got)
	}
}

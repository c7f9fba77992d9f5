package eval

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Metric names a headline metric of a Report, as Select and Report.Metric take it. Its spellings are
// the constants below; a few aliases ("auc", "acc", "f1", "loss", "top5") are accepted too.
type Metric string

// Metric names accepted by Select and Comparison.
const (
	MetricMacroROCAUC Metric = "macro_roc_auc"
	MetricAccuracy    Metric = "accuracy"
	MetricMacroF1     Metric = "macro_f1"
	MetricLogLoss     Metric = "log_loss"
	MetricECE         Metric = "ece"
)

// Metric returns a named headline metric of the report and whether larger is better.
func (r *Report) Metric(name Metric) (value float64, higherIsBetter bool, err error) {
	switch Metric(strings.ToLower(string(name))) {
	case MetricMacroROCAUC, "auc", "roc_auc":
		return r.MacroROCAUC, true, nil
	case MetricAccuracy, "acc", "top1":
		return r.Accuracy, true, nil
	case MetricMacroF1, "f1":
		return r.MacroF1, true, nil
	case MetricLogLoss, "loss":
		return r.LogLoss, false, nil
	case MetricECE:
		return r.ECE, false, nil
	case "top5":
		return r.Top5, true, nil
	}
	return 0, false, fmt.Errorf("eval: unknown metric %q (use %s, %s, %s, %s or %s)", name,
		MetricMacroROCAUC, MetricAccuracy, MetricMacroF1, MetricLogLoss, MetricECE)
}

// Candidate is one model's report on the dataset being compared.
type Candidate struct {
	Model  string
	Report *Report
}

// Choice is the outcome of Select: the winner and the ranking behind it.
type Choice struct {
	Metric  Metric
	Winner  string
	Value   float64
	Ranking []Candidate
}

// Select ranks candidates by a named metric (ties broken by accuracy, then by name) and picks the best.
// Every candidate must have been evaluated on the same examples: comparing reports on different data is an
// error.
func Select(cands []Candidate, metric Metric) (*Choice, error) {
	if len(cands) == 0 {
		return nil, fmt.Errorf("eval: nothing to select from: evaluate at least one model first")
	}
	for _, c := range cands[1:] {
		if c.Report.Examples != cands[0].Report.Examples || strings.Join(c.Report.Classes, ",") != strings.Join(cands[0].Report.Classes, ",") {
			return nil, fmt.Errorf("eval: %q was evaluated on %d examples of [%s], %q on %d of [%s]: compare models on the same dataset",
				c.Model, c.Report.Examples, strings.Join(c.Report.Classes, ","), cands[0].Model, cands[0].Report.Examples, strings.Join(cands[0].Report.Classes, ","))
		}
	}
	_, higher, err := cands[0].Report.Metric(metric)
	if err != nil {
		return nil, err
	}
	ranked := append([]Candidate(nil), cands...)
	val := func(c Candidate) float64 {
		v, _, _ := c.Report.Metric(metric)
		if math.IsNaN(v) {
			if higher {
				return math.Inf(-1)
			}
			return math.Inf(1)
		}
		return v
	}
	sort.SliceStable(ranked, func(i, j int) bool {
		vi, vj := val(ranked[i]), val(ranked[j])
		if vi != vj {
			if higher {
				return vi > vj
			}
			return vi < vj
		}
		if ranked[i].Report.Accuracy != ranked[j].Report.Accuracy {
			return ranked[i].Report.Accuracy > ranked[j].Report.Accuracy
		}
		return ranked[i].Model < ranked[j].Model
	})
	v, _, _ := ranked[0].Report.Metric(metric)
	return &Choice{Metric: metric, Winner: ranked[0].Model, Value: v, Ranking: ranked}, nil
}

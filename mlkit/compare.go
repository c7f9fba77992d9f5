package mlkit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/store"
	"github.com/visionnb/visionnb/mlkit/view"
)

// Metric names the headline metric App.Select ranks by (see eval.Metric).
type Metric = eval.Metric

// The metrics App.Select ranks by.
const (
	MetricMacroROCAUC = eval.MetricMacroROCAUC
	MetricAccuracy    = eval.MetricAccuracy
	MetricMacroF1     = eval.MetricMacroF1
	MetricLogLoss     = eval.MetricLogLoss
	MetricECE         = eval.MetricECE
)

// Comparison is several models evaluated on the same split, side by side.
type Comparison struct {
	Dataset     string
	Split       Split
	Evaluations []*Evaluation
}

// Compare evaluates (or reuses the stored evaluations of) every model on one split of a dataset.
func (a *App) Compare(dataset string, split Split, models ...string) (*Comparison, error) {
	if len(models) == 0 {
		ms, err := a.Models()
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.Status == "done" && m.Dataset == dataset {
				models = append(models, m.Name)
			}
		}
	}
	c := &Comparison{Dataset: dataset, Split: split}
	for _, m := range models {
		e, err := a.Evaluate(m, dataset, split)
		if err != nil {
			return nil, err
		}
		c.Evaluations = append(c.Evaluations, e)
	}
	return c, nil
}

// Table is the side-by-side table of headline metrics.
func (c *Comparison) Table() *view.TableView {
	t := view.Table("model", "accuracy", "macro ROC AUC", "macro F1", "log loss", "ECE", "images").
		Title(fmt.Sprintf("Models on %s %s", c.Dataset, c.Split)).FloatFormat("%.3f")
	for _, e := range c.Evaluations {
		r := e.Report
		t.Row(e.Model, r.Accuracy, r.MacroROCAUC, r.MacroF1, r.LogLoss, r.ECE, r.Examples)
	}
	return t
}

// Show displays the table; for every model its count and mean-probability ("confidence") matrices side
// by side, with the images behind each count cell (Evaluation.ConfusionCells); and a bar chart of the
// metrics.
func (c *Comparison) Show() error {
	if _, err := view.Show(c.Table()); err != nil {
		return err
	}
	var names []string
	var acc, auc, f1 []float64
	for _, e := range c.Evaluations {
		cells, err := e.ConfusionCells()
		if err != nil {
			return err
		}
		if _, err := view.Show(cells); err != nil {
			return err
		}
		names = append(names, e.Model)
		acc, auc, f1 = append(acc, e.Report.Accuracy), append(auc, e.Report.MacroROCAUC), append(f1, e.Report.MacroF1)
	}
	bars := view.Bars().Title("Headline metrics, "+string(c.Split)).Categories(names...).
		Group("accuracy", acc...).Group("macro ROC AUC", auc...).Group("macro F1", f1...).YRange(0, 1).Size(640, 360)
	_, err := view.Show(bars)
	return err
}

// Choice is a recorded model selection.
type Choice struct {
	*eval.Choice
	Dataset string
	Split   Split
	Version int
}

// Select picks the best of the compared models on a split (validation, normally) by a named metric
// (MetricMacroROCAUC, MetricAccuracy, MetricMacroF1, MetricLogLoss, MetricECE, or their names such as
// "macro_roc_auc"), records the choice in the app, and returns it. The selected model is the one the test
// split may then evaluate.
func (a *App) Select(dataset string, split Split, metric Metric, models ...string) (*Choice, error) {
	if split == SplitTest {
		return nil, fmt.Errorf("mlkit: select on validation, not on test: choosing by test results would make the test score optimistic")
	}
	cmp, err := a.Compare(dataset, split, models...)
	if err != nil {
		return nil, err
	}
	var cands []eval.Candidate
	for _, e := range cmp.Evaluations {
		cands = append(cands, eval.Candidate{Model: e.Model, Report: e.Report})
	}
	ch, err := eval.Select(cands, metric)
	if err != nil {
		return nil, fmt.Errorf("mlkit: select: %w", err)
	}
	ctx := context.Background()
	winner, err := a.st.Model(ctx, ch.Winner)
	if err != nil {
		return nil, err
	}
	rj, err := json.Marshal(ch.RankingJSON())
	if err != nil {
		return nil, fmt.Errorf("mlkit: select on %s %s: encoding the ranking: %w", dataset, split, err)
	}
	version := cmp.Evaluations[0].Version
	err = a.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.AddSelection(ctx, store.Selection{Dataset: dataset, Version: version, Split: split,
			Metric: string(metric), ModelID: winner.ID, Value: ch.Value, Ranking: rj})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Choice{Choice: ch, Dataset: dataset, Split: split, Version: version}, nil
}

// Show displays the ranking and the choice.
func (c *Choice) Show() error {
	t := view.Table("rank", "model", string(c.Metric), "accuracy").Title(fmt.Sprintf("Selected on %s v%d %s by %s: %s", c.Dataset, c.Version, c.Split, c.Metric, c.Winner)).FloatFormat("%.3f")
	for i, r := range c.Ranking {
		v, _, _ := r.Report.Metric(c.Metric)
		t.Row(i+1, r.Model, v, r.Report.Accuracy)
	}
	_, err := view.Show(t.HighlightRow(0))
	return err
}

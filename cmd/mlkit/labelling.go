package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/visionnb/visionnb/mlkit"
	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/eval"
	"github.com/visionnb/visionnb/mlkit/search"
	"github.com/visionnb/visionnb/mlkit/view"
)

// labellingFlags holds the flags of the labelling commands: search, suggest, label-errors, leakage and
// cell.
type labellingFlags struct {
	text, embedder, weights string
	like, unselect          stringList
	top                     int
	labelAs, save           string
	leastConfident          bool
	concepts, prompt        string
	accept, min, scale      float64
	folds                   int
	minConfidence           float64
	issueFilter, issueRank  string
	threshold               float64
	hashDistance, combDist  int
	combCosine              float64
	model, split            string
	actual, predicted       string
	version                 int
}

// maxListed bounds --top: how many results or suggestions a command lists.
const maxListed = math.MaxInt32

func init() {
	commands = append(commands,
		command{name: "search", args: "(--text QUERY | --like ID...)", help: "rank inputs by a text (cross-modal embedders) or example images; select the top, unselect wrong ones, label them", run: runSearch,
			flags: func(c *cli, fs *flag.FlagSet) {
				l := &c.lab
				fs.StringVar(&l.text, "text", "", "query by a sentence, e.g. \"a photo of a horse\" (needs a text tower: CLIP)")
				fs.Var(&l.like, "like", "query by example input ids (repeatable or comma-separated; more ids may follow as arguments)")
				fs.StringVar(&l.embedder, "embedder", "", "embedder (default "+embed.CLIPViTB32+" for --text, "+mlkit.DefaultEmbedder+" for --like)")
				fs.StringVar(&l.weights, "weights", "", "folder of the embedder's weights (default: its usual place)")
				fs.BoolVar(&c.unlabelled, "unlabelled", false, "rank only inputs without a label")
				intVar(fs, &l.top, "top", 20, 1, maxListed, "select the best N results")
				fs.Var(&l.unselect, "unselect", "unselect results by position in the selection, 0-based as listed (repeatable or comma-separated)")
				fs.StringVar(&l.labelAs, "label-as", "", "label the selection with this concept (the query is recorded as the labels' source)")
				fs.BoolVar(&l.leastConfident, "least-confident", false, "list the selection worst match first: the ones to double-check")
				fs.StringVar(&l.save, "save", "", "save the selection (after --top and --unselect) under this name: `mlkit selection show NAME` reopens it")
			}},
		command{name: "selection", args: "[ls | show NAME | rm NAME...]", help: "list, reopen (then --unselect, --label-as) or delete search selections saved with `mlkit search --save`", run: runSelection,
			flags: func(c *cli, fs *flag.FlagSet) {
				l := &c.lab
				fs.Var(&l.unselect, "unselect", "with show: unselect by position as listed (repeatable or comma-separated); the selection is saved again")
				fs.StringVar(&l.labelAs, "label-as", "", "with show: label the selection with this concept (its query is recorded as the labels' source)")
				fs.BoolVar(&l.leastConfident, "least-confident", false, "with show: list worst match first")
			}},
		command{name: "suggest", args: "[--concepts A,B,C]", help: "suggest labels for the unlabelled inputs: from the labelled ones, or zero-shot from concept names (CLIP)", run: runSuggest,
			flags: func(c *cli, fs *flag.FlagSet) {
				l := &c.lab
				fs.StringVar(&l.concepts, "concepts", "", "zero-shot: comma-separated concept names, each put into --prompt (needs a text tower: CLIP)")
				fs.StringVar(&l.prompt, "prompt", search.DefaultPrompt, "zero-shot prompt template; {concept} stands for each concept")
				fs.StringVar(&l.embedder, "embedder", "", "embedder (default "+embed.CLIPViTB32+" with --concepts, else "+mlkit.DefaultEmbedder+")")
				fs.StringVar(&l.weights, "weights", "", "folder of the embedder's weights (default: its usual place)")
				optFloatVar(fs, &l.scale, "scale", 1e-3, 1e4, "softmax sharpness: probabilities are softmax(scale·cosine) (default 20 from labels, the model's own for zero-shot)")
				optFloatVar(fs, &l.min, "min", 0, 1, "list only suggestions at least this confident")
				optFloatVar(fs, &l.accept, "accept", 0, 1, "label every suggestion at least this confident (source: model)")
				fs.BoolVar(&l.leastConfident, "least-confident", false, "list the least confident first: review the bottom of a batch before accepting it")
				optIntVar(fs, &l.top, "top", 1, maxListed, "list only the first N (default all)")
			}},
		command{name: "label-errors", args: "", help: "find likely mislabels of a dataset's latest version (cross-validated heads on embeddings)", run: runLabelErrors,
			flags: func(c *cli, fs *flag.FlagSet) {
				l := &c.lab
				fs.StringVar(&c.dataset, "dataset", "default", "dataset name")
				fs.StringVar(&l.embedder, "embedder", mlkit.DefaultEmbedder, "embedder whose vectors the heads learn from")
				intVar(fs, &l.folds, "folds", 5, 2, 100, "cross-validation folds")
				floatVar(fs, &l.minConfidence, "min-confidence", 0, 0, 1, "list only issues whose suggested class reaches this probability")
				fs.StringVar(&l.issueFilter, "method", string(eval.FilterPruneByNoiseRate), "how issues are found: prune_by_noise_rate (confident learning), prune_by_class, both, confident_learning, predicted_neq_given")
				fs.StringVar(&l.issueRank, "rank-by", string(eval.RankSelfConfidence), "order of the issues, least likely correct first: self_confidence or normalized_margin")
			}},
		command{name: "leakage", args: "", help: "list near-duplicate images across the train, validation and test splits of a dataset's latest version", run: runLeakage,
			flags: func(c *cli, fs *flag.FlagSet) {
				l := &c.lab
				fs.StringVar(&c.dataset, "dataset", "default", "dataset name")
				fs.StringVar(&l.embedder, "embedder", mlkit.DefaultEmbedder, "embedder whose vectors are compared")
				floatVar(fs, &l.threshold, "threshold", eval.DefaultLeakageThreshold, 1e-6, 1, "cosine similarity from which two images count as near duplicates whatever their perceptual hashes")
				intVar(fs, &l.hashDistance, "hash-distance", eval.DefaultDuplicateRule.HashDistance, 0, 64, "perceptual-hash distance (bits) within which two images are near duplicates whatever their cosine (0: off)")
				intVar(fs, &l.combDist, "combined-distance", eval.DefaultDuplicateRule.CombinedDistance, 0, 64, "hash distance within which two images at --combined-cosine or more are near duplicates (0: off)")
				floatVar(fs, &l.combCosine, "combined-cosine", float64(eval.DefaultDuplicateRule.CombinedCosine), 0, 1, "cosine for --combined-distance")
			}},
		command{name: "cell", args: "--model M --actual A --predicted P", help: "list the images of one confusion-matrix cell of a model's evaluation (actual row, predicted column)", run: runCell,
			flags: func(c *cli, fs *flag.FlagSet) {
				l := &c.lab
				fs.StringVar(&c.dataset, "dataset", "default", "dataset name")
				fs.StringVar(&l.model, "model", "", "model name")
				fs.StringVar(&l.split, "split", "validation", "train, validation or test (test: the recorded test evaluation)")
				intVar(fs, &l.version, "version", 0, 0, maxVersion, "dataset version (0: the latest)")
				fs.StringVar(&l.actual, "actual", "", "the images' given concept (the row)")
				fs.StringVar(&l.predicted, "predicted", "", "the concept the model predicts (the column)")
			}},
	)
}

// embedOptions are the embedder options of --weights.
func (l *labellingFlags) embedOptions() embed.Options {
	o := embed.NewOptions()
	if l.weights != "" {
		o = o.WithDir(l.weights)
	}
	return o
}

// given reports whether the flag called name was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// positions parses --unselect values: 0-based positions, repeatable or comma-separated.
func positions(vals []string) ([]int, error) {
	var out []int
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p == "" {
				continue
			}
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return nil, usagef("--unselect %q: want positions 0, 1, 2... as listed by `mlkit search`", p)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// hitRow is one listed search result.
type hitRow struct {
	Position int      `json:"position"`
	ID       int64    `json:"id"`
	File     string   `json:"file_name"`
	Score    float32  `json:"score"`
	Labels   []string `json:"labels"`
}

func runSearch(c *cli, _ *flag.FlagSet, args []string) error {
	l := &c.lab
	var like []int64
	if len(l.like)+len(args) > 0 {
		ids, err := parseIDs(append(append([]string{}, l.like...), args...))
		if err != nil {
			return err
		}
		like = ids
	}
	if (l.text == "") == (len(like) == 0) {
		return usagef("give exactly one query: --text QUERY or --like ID...")
	}
	unselect, err := positions(l.unselect)
	if err != nil {
		return err
	}
	model := l.embedder
	if model == "" {
		model = mlkit.DefaultEmbedder
		if l.text != "" {
			model = embed.CLIPViTB32
		}
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	b := app.Search(model).Options(l.embedOptions())
	if l.text != "" {
		b = b.Text(l.text)
	} else {
		b = b.Like(like...)
	}
	if c.unlabelled {
		b = b.Unlabelled()
	}
	res, err := b.Run()
	if errors.Is(err, mlkit.ErrNoTextTower) {
		// The facade's way out is Go (.Like(ids...)); say the command line's.
		return fmt.Errorf("text search %q with %s: %w; search by example images with `mlkit search --like ID...`, or use --embedder %s", l.text, model, mlkit.ErrNoTextTower, embed.CLIPViTB32)
	}
	if err != nil {
		return err
	}
	sel := res.Select().Top(l.top)
	if err := sel.Unselect(unselect...); err != nil {
		return usageError{err.Error()}
	}
	if l.save != "" {
		if err := sel.Save(l.save); err != nil {
			return usageError{err.Error()}
		}
	}
	return c.emitSelection(sel, len(unselect), l.save)
}

// emitSelection lists a selection (best first, or worst first with --least-confident), labels it with
// --label-as, and says under which name it is saved ("" when it is not).
func (c *cli) emitSelection(sel *mlkit.Selection, unselected int, saved string) error {
	l := &c.lab
	res := sel.Results()
	hits := sel.Hits()
	rows := make([]hitRow, len(hits))
	for i, h := range hits {
		rows[i] = hitRow{Position: i, ID: h.ID, File: res.Input(h).FileName, Score: h.Score, Labels: append([]string{}, res.Labels(h.ID)...)}
	}
	if l.leastConfident {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	out := map[string]any{"query": res.Query, "embedder": res.Model, "results": res.Len(), "unselected": unselected, "selected": rows}
	if saved != "" {
		out["saved_as"] = saved
		out["unselected_total"] = len(sel.Unselected())
	}
	labelled := 0
	if l.labelAs != "" {
		var err error
		if labelled, err = sel.LabelAs(l.labelAs); err != nil {
			return err
		}
		out["concept"], out["labelled"] = l.labelAs, labelled
	}
	return c.emit(out, func(w io.Writer) {
		order := "best first"
		if l.leastConfident {
			order = "worst first"
		}
		fmt.Fprintf(w, "%s with %s: %s, %d selected (%s; positions are what --unselect takes)\n", res.Query, res.Model, view.Count(res.Len(), "result"), len(rows), order)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "pos\tid\tfile\tscore\tlabels")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.4f\t%s\n", r.Position, r.ID, r.File, r.Score, strings.Join(r.Labels, ","))
		}
		_ = tw.Flush()
		if saved != "" {
			fmt.Fprintf(w, "saved as selection %q (%s unselected in all): `mlkit selection show %q` reopens it\n", saved, view.Count(len(sel.Unselected()), "input"), saved)
		}
		if l.labelAs != "" {
			fmt.Fprintf(w, "labelled %d of %d selected as %s (source: %s)\n", labelled, len(rows), l.labelAs, res.Query)
		}
	})
}

func runSelection(c *cli, _ *flag.FlagSet, args []string) error {
	l := &c.lab
	sub := "ls"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch {
	case sub == "ls" && len(args) > 0:
		return usagef("selection ls takes no arguments")
	case sub == "show" && len(args) != 1:
		return usagef("selection show takes one selection NAME")
	case sub == "rm" && len(args) == 0:
		return usagef("selection rm needs at least one selection NAME")
	case sub != "ls" && sub != "show" && sub != "rm":
		return usagef("selection: unknown subcommand %q (use ls, show or rm)", sub)
	case sub != "show" && (len(l.unselect) > 0 || l.labelAs != "" || l.leastConfident):
		return usagef("--unselect, --label-as and --least-confident go with selection show")
	}
	unselect, err := positions(l.unselect)
	if err != nil {
		return err
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	switch sub {
	case "rm":
		for _, name := range args {
			if err := app.DeleteSelection(name); err != nil {
				return err
			}
		}
		return c.emit(map[string]any{"deleted": args}, func(w io.Writer) {
			for _, name := range args {
				fmt.Fprintf(w, "deleted selection %s\n", name)
			}
		})
	case "show":
		sel, err := app.Selection(args[0])
		if err != nil {
			return err
		}
		if len(unselect) > 0 {
			if err := sel.Unselect(unselect...); err != nil {
				return usageError{err.Error()}
			}
			if err := sel.Save(args[0]); err != nil {
				return err
			}
		}
		return c.emitSelection(sel, len(unselect), args[0])
	}
	saved, err := app.SavedSelections()
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, s := range saved {
		out = append(out, map[string]any{"name": s.Name, "query": s.Query, "embedder": s.Model, "selected": len(s.Hits),
			"unselected": len(s.Unselected), "created": s.Created, "updated": s.Updated})
	}
	return c.emit(out, func(w io.Writer) {
		if len(saved) == 0 {
			fmt.Fprintln(w, "no saved selections (save one with `mlkit search ... --save NAME`)")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "name\tquery\tembedder\tselected\tunselected\tupdated")
		for _, s := range saved {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", s.Name, s.Query, s.Model, len(s.Hits), len(s.Unselected), s.Updated.Format("2006-01-02 15:04"))
		}
		_ = tw.Flush()
	})
}

// suggestionRow is one listed suggestion.
type suggestionRow struct {
	ID         int64   `json:"id"`
	File       string  `json:"file_name"`
	Concept    string  `json:"concept"`
	Confidence float64 `json:"confidence"`
	Margin     float64 `json:"margin"`
}

func runSuggest(c *cli, fs *flag.FlagSet, args []string) error {
	l := &c.lab
	if len(args) > 0 {
		return usagef("suggest takes no arguments (zero-shot concepts go in --concepts a,b,c)")
	}
	var concepts []string
	for _, s := range strings.Split(l.concepts, ",") {
		if s = strings.TrimSpace(s); s != "" {
			concepts = append(concepts, s)
		}
	}
	if l.concepts != "" && len(concepts) < 2 {
		return usagef("--concepts %q: give at least 2 comma-separated concepts", l.concepts)
	}
	if given(fs, "prompt") && len(concepts) == 0 {
		return usagef("--prompt is for zero-shot suggestions: give --concepts too")
	}
	model := l.embedder
	if model == "" {
		model = mlkit.DefaultEmbedder
		if len(concepts) > 0 {
			model = embed.CLIPViTB32
		}
	}
	opts := []mlkit.SuggestOption{mlkit.SuggestWith(l.embedOptions())}
	if l.scale > 0 {
		opts = append(opts, mlkit.Scale(l.scale))
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	var sug *mlkit.Suggestions
	if len(concepts) > 0 {
		sug, err = app.SuggestZeroShot(model, concepts, append(opts, mlkit.Prompt(l.prompt))...)
		if errors.Is(err, mlkit.ErrNoTextTower) {
			return fmt.Errorf("zero-shot suggestions with %s: %w; drop --concepts to suggest from the labelled inputs (any embedder), or use --embedder %s", model, mlkit.ErrNoTextTower, embed.CLIPViTB32)
		}
	} else {
		sug, err = app.SuggestFromLabels(model, opts...)
	}
	if err != nil {
		return err
	}
	total := sug.Len()
	if given(fs, "min") {
		sug.Above(l.min)
	}
	accepting := given(fs, "accept")
	if accepting {
		sug.Above(l.accept) // the batch Accept labels, listed below
	}
	items := sug.Items
	if l.leastConfident {
		items = sug.Bottom(-1)
	}
	if l.top > 0 && l.top < len(items) {
		items = items[:l.top]
	}
	rows := make([]suggestionRow, len(items))
	for i, it := range items {
		in, err := app.Store().Input(c.ctx, it.InputID)
		if err != nil {
			return fmt.Errorf("suggestion for input %d: %w", it.InputID, err)
		}
		rows[i] = suggestionRow{ID: it.InputID, File: in.FileName, Concept: it.Concept, Confidence: it.Confidence, Margin: it.Margin}
	}
	out := map[string]any{"source": sug.Source, "embedder": model, "suggestions": total, "kept": sug.Len(), "listed": rows}
	accepted := 0
	if accepting {
		if accepted, err = sug.Accept(l.accept); err != nil {
			return err
		}
		out["accepted"], out["accept_min"] = accepted, l.accept
	}
	return c.emit(out, func(w io.Writer) {
		order := "most confident first"
		if l.leastConfident {
			order = "least confident first"
		}
		fmt.Fprintf(w, "%s (%s); %d kept, %d listed, %s\n", view.Count(total, "suggestion"), sug.Source, sug.Len(), len(rows), order)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "id\tfile\tconcept\tconfidence\tmargin")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.4f\t%.4f\n", r.ID, r.File, r.Concept, r.Confidence, r.Margin)
		}
		_ = tw.Flush()
		if accepting {
			fmt.Fprintf(w, "accepted %s at confidence >= %g (source: model, %s)\n", view.Count(accepted, "suggestion"), l.accept, sug.Source)
		}
	})
}

func runLabelErrors(c *cli, _ *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("label-errors takes no arguments")
	}
	l := &c.lab
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	li, err := app.LabelErrors(l.embedder, c.dataset, mlkit.Folds(l.folds), mlkit.MinConfidence(l.minConfidence),
		mlkit.FindIssuesBy(eval.IssueFilter(l.issueFilter)), mlkit.RankIssuesBy(eval.IssueRank(l.issueRank)))
	if err != nil {
		return err
	}
	type row struct {
		ID            int64   `json:"id"`
		File          string  `json:"file_name"`
		Given         string  `json:"given"`
		GivenProb     float64 `json:"given_prob"`
		Suggested     string  `json:"suggested"`
		SuggestedProb float64 `json:"suggested_prob"`
	}
	rows := make([]row, len(li.Items))
	for i, is := range li.Items {
		in, err := app.Store().Input(c.ctx, is.InputID)
		if err != nil {
			return fmt.Errorf("flagged input %d: %w", is.InputID, err)
		}
		rows[i] = row{is.InputID, in.FileName, is.Given, is.GivenProb, is.Suggested, is.SuggestedProb}
	}
	out := map[string]any{"dataset": li.Dataset, "version": li.Version, "embedder": li.Embedder, "folds": l.folds, "issues": rows,
		"checked": li.Checked, "method": li.Filter, "rank_by": li.Rank, "confident_joint": li.Joint.Counts, "classes": li.Classes}
	return c.emit(out, func(w io.Writer) {
		fmt.Fprintf(w, "%s v%d: %d likely label errors of %d (%s, %d-fold cross-validated heads on %s), most likely first\n", li.Dataset, li.Version, len(rows), li.Checked, li.Filter, l.folds, li.Embedder)
		if len(rows) == 0 {
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "id\tfile\tgiven\tp(given)\tsuggested\tp(suggested)")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.3f\t%s\t%.3f\n", r.ID, r.File, r.Given, r.GivenProb, r.Suggested, r.SuggestedProb)
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "fix one with `mlkit label --replace --concept C ID`\n")
	})
}

func runLeakage(c *cli, _ *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("leakage takes no arguments")
	}
	l := &c.lab
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	rep, err := app.Leakage(l.embedder, c.dataset, mlkit.DuplicatesBy(eval.DuplicateRule{Cosine: float32(l.threshold),
		HashDistance: l.hashDistance, CombinedDistance: l.combDist, CombinedCosine: float32(l.combCosine)}))
	if err != nil {
		return err
	}
	type row struct {
		A          int64   `json:"a"`
		FileA      string  `json:"file_a"`
		SplitA     string  `json:"split_a"`
		B          int64   `json:"b"`
		FileB      string  `json:"file_b"`
		SplitB     string  `json:"split_b"`
		Similarity float32 `json:"similarity"`
		// HashDistance is the perceptual hashes' distance in bits (mirror images compared too).
		HashDistance int `json:"hash_distance"`
	}
	rows := make([]row, len(rep.Pairs))
	for i, p := range rep.Pairs {
		a, err := app.Store().Input(c.ctx, p.A)
		if err != nil {
			return fmt.Errorf("leakage pair input %d: %w", p.A, err)
		}
		b, err := app.Store().Input(c.ctx, p.B)
		if err != nil {
			return fmt.Errorf("leakage pair input %d: %w", p.B, err)
		}
		rows[i] = row{p.A, a.FileName, p.SplitA, p.B, b.FileName, p.SplitB, p.Similarity, p.HashDistance}
	}
	out := map[string]any{"dataset": rep.Dataset, "version": rep.Version, "embedder": rep.Embedder, "threshold": rep.Threshold, "pairs": rows,
		"hash_distance": rep.Rule.HashDistance, "combined_distance": rep.Rule.CombinedDistance, "combined_cosine": rep.Rule.CombinedCosine}
	return c.emit(out, func(w io.Writer) {
		fmt.Fprintf(w, "%s v%d: %s across splits (cosine >= %g on %s, or perceptual hashes within %d bits, or within %d bits at cosine >= %g)\n",
			rep.Dataset, rep.Version, view.Count(len(rows), "near-duplicate pair"), rep.Threshold, rep.Embedder, rep.Rule.HashDistance, rep.Rule.CombinedDistance, rep.Rule.CombinedCosine)
		if len(rows) == 0 {
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "similarity\thash bits\tid\tfile\tsplit\tid\tfile\tsplit")
		for _, r := range rows {
			fmt.Fprintf(tw, "%.4f\t%d\t%d\t%s\t%s\t%d\t%s\t%s\n", r.Similarity, r.HashDistance, r.A, r.FileA, r.SplitA, r.B, r.FileB, r.SplitB)
		}
		_ = tw.Flush()
	})
}

func runCell(c *cli, fs *flag.FlagSet, args []string) error {
	l := &c.lab
	switch {
	case len(args) == 3 && l.model == "" && l.actual == "" && l.predicted == "":
		l.model, l.actual, l.predicted = args[0], args[1], args[2]
	case len(args) > 0:
		return usagef("give the cell as --model M --actual A --predicted P (or as the three arguments MODEL ACTUAL PREDICTED)")
	}
	if l.model == "" || l.actual == "" || l.predicted == "" {
		return usagef("--model, --actual and --predicted are required")
	}
	app, err := c.openApp()
	if err != nil {
		return err
	}
	defer app.Close()
	e, err := app.Evaluate(l.model, c.dataset, mlkit.Split(l.split), mlkit.AtVersion(l.version))
	if err != nil {
		v := ""
		if l.version > 0 {
			v = fmt.Sprintf(" --version %d", l.version)
		}
		return testRuleError(err, c.dataset, fmt.Sprintf("mlkit evaluate --dataset %s --model %s --split test%s", c.dataset, l.model, v))
	}
	p := e.Predictions
	ai, pi := indexOfClass(p.Classes, l.actual), indexOfClass(p.Classes, l.predicted)
	if ai < 0 || pi < 0 {
		return fmt.Errorf("cell (%q, %q): unknown concept; %s on %s v%d has %s", l.actual, l.predicted, l.model, e.Dataset, e.Version, strings.Join(p.Classes, ", "))
	}
	type row struct {
		ID            int64              `json:"id"`
		File          string             `json:"file_name"`
		ActualProb    float32            `json:"actual_prob"`
		PredictedProb float32            `json:"predicted_prob"`
		Probs         map[string]float32 `json:"probs"`
	}
	idx := eval.Cell(p, ai, pi)
	rows := make([]row, len(idx))
	for k, i := range idx {
		in, err := app.Store().Input(c.ctx, p.IDs[i])
		if err != nil {
			return fmt.Errorf("cell input %d: %w", p.IDs[i], err)
		}
		probs := map[string]float32{}
		for j, cl := range p.Classes {
			probs[cl] = p.Probs[i][j]
		}
		rows[k] = row{in.ID, in.FileName, p.Probs[i][ai], p.Probs[i][pi], probs}
	}
	out := map[string]any{"model": e.Model, "dataset": e.Dataset, "version": e.Version, "split": e.Split,
		"actual": l.actual, "predicted": l.predicted, "flag": e.Flag(), "inputs": rows}
	return c.emit(out, func(w io.Writer) {
		fmt.Fprintf(w, "%s: actual %s, predicted %s: %s\n", e.Title(), l.actual, l.predicted, view.Count(len(rows), "image"))
		if len(rows) == 0 {
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "id\tfile\tp(%s)\tp(%s)\n", l.actual, l.predicted)
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%.3f\t%.3f\n", r.ID, r.File, r.ActualProb, r.PredictedProb)
		}
		_ = tw.Flush()
	})
}

// indexOfClass is the position of class in classes, -1 when absent.
func indexOfClass(classes []string, class string) int {
	for i, c := range classes {
		if c == class {
			return i
		}
	}
	return -1
}

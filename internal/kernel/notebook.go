package kernel

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// Notebook is the part of an nbformat 4 notebook the runner reads.
type Notebook struct {
	NBFormat int            `json:"nbformat"`
	Metadata map[string]any `json:"metadata"`
	Cells    []Cell         `json:"cells"`
}

// Cell is one notebook cell.
type Cell struct {
	CellType       string       `json:"cell_type"`
	Source         MultiLine    `json:"source"`
	ExecutionCount *int         `json:"execution_count,omitempty"`
	Metadata       CellMetadata `json:"metadata"`
	Outputs        []Output     `json:"outputs,omitempty"`
}

// CellMetadata holds the execution timestamps nbclient records (record_timing, on by default).
type CellMetadata struct {
	Execution map[string]string `json:"execution,omitempty"`
}

// Output is one output of a code cell: a stream, display_data, execute_result or error.
type Output struct {
	OutputType string                     `json:"output_type"`
	Name       string                     `json:"name,omitempty"` // stream: stdout or stderr
	Text       MultiLine                  `json:"text,omitempty"` // stream
	Data       map[string]json.RawMessage `json:"data,omitempty"` // display_data, execute_result
	EName      string                     `json:"ename,omitempty"`
	EValue     string                     `json:"evalue,omitempty"`
	Traceback  []string                   `json:"traceback,omitempty"`
}

// MultiLine is an nbformat multi-line string: either one string or a list of lines to concatenate.
type MultiLine string

// UnmarshalJSON accepts a string or a list of strings.
func (m *MultiLine) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*m = MultiLine(s)
		return nil
	}
	var lines []string
	if err := json.Unmarshal(data, &lines); err != nil {
		return fmt.Errorf("nbformat multi-line string: want a string or a list of strings: %w", err)
	}
	*m = MultiLine(strings.Join(lines, ""))
	return nil
}

// ReadNotebook reads and parses an nbformat 4 notebook file.
func ReadNotebook(path string) (*Notebook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading notebook: %w", err)
	}
	nb, err := ParseNotebook(data)
	if err != nil {
		return nil, fmt.Errorf("notebook %s: %w", path, err)
	}
	return nb, nil
}

// ParseNotebook parses an nbformat 4 notebook.
func ParseNotebook(data []byte) (*Notebook, error) {
	var nb Notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, fmt.Errorf("parsing nbformat JSON: %w", err)
	}
	if nb.NBFormat != 4 {
		return nil, fmt.Errorf("nbformat %d, want 4", nb.NBFormat)
	}
	return &nb, nil
}

// ProblemKind classifies a failure found in an executed notebook.
type ProblemKind string

// The failures Scan detects.
const (
	// ProblemError is an `error` output: a compile error or any error the kernel reported.
	ProblemError ProblemKind = "error"
	// ProblemPanic is a Go panic printed on stderr.
	ProblemPanic ProblemKind = "panic"
	// ProblemExitStatus is a non-zero exit of the cell's program (or of a `!command`), which GoNB only
	// reports as "exit status N" on stderr.
	ProblemExitStatus ProblemKind = "exit status"
	// ProblemGoroutineDump is a goroutine dump ("goroutine N [running]") on stderr: a crash or fatal error.
	ProblemGoroutineDump ProblemKind = "goroutine dump"
	// ProblemNotFinished is a code cell that started but never got its reply (timeout, dead kernel).
	ProblemNotFinished ProblemKind = "not finished"
)

// Problem is one failure found in an executed notebook.
type Problem struct {
	// Cell is the 0-based index of the cell in the notebook.
	Cell int
	// ExecutionCount is the cell's In [n] number, 0 when it has none.
	ExecutionCount int
	// Kind says what was found.
	Kind ProblemKind
	// Excerpt is the first lines of the offending output, ANSI colours removed.
	Excerpt []string
}

// String formats the problem for a log: the cell, the kind and the excerpt, indented.
func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cell %d", p.Cell)
	if p.ExecutionCount > 0 {
		fmt.Fprintf(&b, " (In [%d])", p.ExecutionCount)
	}
	fmt.Fprintf(&b, ": %s", p.Kind)
	for _, l := range p.Excerpt {
		b.WriteString("\n    | " + l)
	}
	return b.String()
}

// ExcerptLines is how many lines of an offending output a Problem keeps.
const ExcerptLines = 8

var (
	ansiRE       = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)
	exitStatusRE = regexp.MustCompile(`(?m)\bexit status [1-9][0-9]*\b`)
	goroutineRE  = regexp.MustCompile(`(?m)^goroutine [0-9]+ \[running\]`)
	panicRE      = regexp.MustCompile(`(?m)(^|\s)panic: `)
)

// StripANSI removes terminal colour escapes.
func StripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

// Scan returns the failures in an executed notebook, in cell order: every `error` output; stderr streams
// with a Go panic, a non-zero "exit status N" or a goroutine dump; and code cells that started executing
// but never got their reply. A stderr stream matching several patterns is reported once, as the first of
// panic, goroutine dump, exit status.
func Scan(nb *Notebook) []Problem {
	var problems []Problem
	for i, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		count := 0
		if c.ExecutionCount != nil {
			count = *c.ExecutionCount
		}
		add := func(kind ProblemKind, text string) {
			problems = append(problems, Problem{Cell: i, ExecutionCount: count, Kind: kind, Excerpt: excerpt(text, ExcerptLines)})
		}
		// GoNB may split one stderr write into several stream outputs: scan their concatenation too.
		var stderr strings.Builder
		for _, o := range c.Outputs {
			switch o.OutputType {
			case "error":
				text := o.EName
				if o.EValue != "" {
					text += ": " + o.EValue
				}
				if len(o.Traceback) > 0 {
					text += "\n" + strings.Join(o.Traceback, "\n")
				}
				add(ProblemError, text)
			case "stream":
				if o.Name == "stderr" {
					stderr.WriteString(string(o.Text))
				}
			}
		}
		if text := StripANSI(stderr.String()); text != "" {
			switch {
			case panicRE.MatchString(text):
				add(ProblemPanic, fromMatch(text, panicRE))
			case goroutineRE.MatchString(text):
				add(ProblemGoroutineDump, fromMatch(text, goroutineRE))
			case exitStatusRE.MatchString(text):
				add(ProblemExitStatus, text)
			}
		}
		if ex := c.Metadata.Execution; ex != nil && ex["iopub.execute_input"] != "" && ex["shell.execute_reply"] == "" {
			add(ProblemNotFinished, "the cell started at "+ex["iopub.execute_input"]+" and never finished (timeout or dead kernel)")
		}
	}
	return problems
}

// fromMatch returns text starting at the line where re first matches.
func fromMatch(text string, re *regexp.Regexp) string {
	loc := re.FindStringIndex(text)
	if loc == nil {
		return text
	}
	start := strings.LastIndexByte(text[:loc[0]], '\n') + 1
	return text[start:]
}

// excerpt returns the first n non-empty lines of text, ANSI colours removed.
func excerpt(text string, n int) []string {
	var lines []string
	for _, l := range strings.Split(StripANSI(text), "\n") {
		l = strings.TrimRight(l, " \t\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		lines = append(lines, l)
		if len(lines) == n {
			break
		}
	}
	return lines
}

// CellTiming is how long one code cell took, from nbclient's execution timestamps.
type CellTiming struct {
	// Cell is the 0-based index of the cell in the notebook.
	Cell int
	// ExecutionCount is the cell's In [n] number, 0 when it has none.
	ExecutionCount int
	// Duration runs from iopub.execute_input to shell.execute_reply.
	Duration time.Duration
	// Finished is false when the cell never got its reply.
	Finished bool
	// FirstLine is the first non-empty line of the cell's source.
	FirstLine string
}

// Timings returns the timing of every executed code cell (cells with an iopub.execute_input timestamp).
func Timings(nb *Notebook) []CellTiming {
	var out []CellTiming
	for i, c := range nb.Cells {
		if c.CellType != "code" || c.Metadata.Execution == nil {
			continue
		}
		start, err := time.Parse(time.RFC3339Nano, c.Metadata.Execution["iopub.execute_input"])
		if err != nil {
			continue
		}
		t := CellTiming{Cell: i, FirstLine: firstLine(string(c.Source))}
		if c.ExecutionCount != nil {
			t.ExecutionCount = *c.ExecutionCount
		}
		if end, err := time.Parse(time.RFC3339Nano, c.Metadata.Execution["shell.execute_reply"]); err == nil {
			t.Duration, t.Finished = end.Sub(start), true
		}
		out = append(out, t)
	}
	return out
}

// firstLine returns the first line of a cell that says something: blank lines and GoNB's bare "%%"
// (start of main) are skipped.
func firstLine(src string) string {
	for _, l := range strings.Split(src, "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "%%" && l != "%main" {
			return l
		}
	}
	return ""
}

// FormatTimings renders timings as a small table with a total line.
func FormatTimings(timings []CellTiming) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %4s  %5s  %9s  %s\n", "cell", "In", "seconds", "first line")
	var total time.Duration
	for _, t := range timings {
		secs := fmt.Sprintf("%9.2f", t.Duration.Seconds())
		if !t.Finished {
			secs = fmt.Sprintf("%9s", "unfinished")
		}
		in := ""
		if t.ExecutionCount > 0 {
			in = fmt.Sprintf("[%d]", t.ExecutionCount)
		}
		line := t.FirstLine
		if r := []rune(line); len(r) > 50 {
			line = string(r[:49]) + "…"
		}
		fmt.Fprintf(&b, "  %4d  %5s  %s  %s\n", t.Cell, in, secs, line)
		total += t.Duration
	}
	fmt.Fprintf(&b, "  %4s  %5s  %9.2f  (%d cells)\n", "total", "", total.Seconds(), len(timings))
	return b.String()
}

package view

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewProgress(100).Title("embedding").Unit("img").Writer(&out)
	p.notebook = false
	p.terminal = true // the in-place line of a terminal (TestProgressLogLines covers other writers)
	p.now = func() time.Time { return clock }
	p.start = clock

	clock = clock.Add(5 * time.Second)
	p.Add(50)
	p.Message("batch 7")
	line := p.String()
	for _, want := range []string{"embedding", "[##########----------]", "50/100", "50%", "10 img/s", "ETA 5s", "batch 7"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	clock = clock.Add(5 * time.Second)
	p.Add(50)
	p.Done()
	p.Add(10) // ignored after Done
	s := out.String()
	if !strings.HasPrefix(s, "\r") || !strings.HasSuffix(s, "\n") {
		t.Errorf("terminal output should update with \\r and end with a newline: %q", s)
	}
	last := s[strings.LastIndex(s, "\r")+1:]
	if !strings.Contains(last, "100/100") || !strings.Contains(last, "in 10s") || strings.Contains(last, "110") {
		t.Errorf("final line %q", last)
	}
	// Unknown total: a count and a rate, no bar.
	q := NewProgress(0).Writer(nil)
	q.now = func() time.Time { return clock.Add(2 * time.Second) }
	q.start = clock
	q.Add(7)
	if l := q.String(); strings.Contains(l, "[") || !strings.HasPrefix(l, "7") || !strings.Contains(l, "3.50 it/s") {
		t.Errorf("unknown-total line %q", l)
	}
	for d, want := range map[time.Duration]string{42 * time.Second: "42s", 185 * time.Second: "3m05s", 3725 * time.Second: "1h02m"} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if h := p.htmlLocked("<b>" + line); strings.Contains(h, "<b>") {
		t.Errorf("progress HTML not escaped: %s", h)
	}
}

// TestProgressLogLines: outside a terminal (a log file, a pipe), progress is whole lines without \r, at
// most one per LogInterval plus the final one.
func TestProgressLogLines(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewProgress(1000).Title("training").Unit("step").Writer(&out)
	p.notebook = false
	p.now = func() time.Time { return clock }
	p.start = clock
	for i := 0; i < 1000; i++ {
		clock = clock.Add(50 * time.Millisecond) // 50 s in all: the first line, then one per 5 s
		p.Add(1)
	}
	p.Done()
	s := out.String()
	if strings.Contains(s, "\r") {
		t.Fatalf("log output contains \\r: %q", s)
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) < 9 || len(lines) > 12 {
		t.Fatalf("%d lines for 50 s of progress, want about one per 5 s plus the final one:\n%s", len(lines), s)
	}
	if !strings.Contains(lines[0], "1/1000") || !strings.Contains(lines[len(lines)-1], "1000/1000") {
		t.Fatalf("first line %q, last line %q", lines[0], lines[len(lines)-1])
	}
	if f, err := os.CreateTemp(t.TempDir(), "log"); err == nil {
		defer f.Close()
		if isTerminal(f) {
			t.Error("a regular file is not a terminal")
		}
	}
}

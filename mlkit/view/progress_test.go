package view

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewProgress(100).Title("embedding").Unit("img").Writer(&out)
	p.notebook = false
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
	if got := shortDuration(3725 * time.Second); got != "1h02m" {
		t.Errorf("shortDuration = %q", got)
	}
	if h := p.htmlLocked("<b>" + line); strings.Contains(h, "<b>") {
		t.Errorf("progress HTML not escaped: %s", h)
	}
}

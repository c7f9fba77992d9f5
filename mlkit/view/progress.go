package view

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/janpfeifer/gonb/gonbui"
)

// Progress reports a long run (training, embedding a folder of images): one line that updates in
// place, in a notebook (a transient display updated with gonbui.UpdateHTML) or on a terminal (carriage
// return). Anywhere else (a log file, a pipe, CI) it writes whole lines instead, at most one every
// LogInterval plus the final one, so logs stay readable. It shows done/total, percentage, rate, ETA and
// a message. It is safe for concurrent use.
//
//	p := view.NewProgress(len(files)).Title("embedding").Unit("img")
//	for _, f := range files { ...; p.Add(1) }
//	p.Done()
type Progress struct {
	mu          sync.Mutex
	total, done int64
	title, msg  string
	unit        string
	start, last time.Time
	w           io.Writer
	notebook    bool
	terminal    bool // w is a terminal: redraw one line with \r; otherwise write throttled lines
	lastLine    time.Time
	displayID   string
	interval    time.Duration
	lastLen     int
	finished    bool
	now         func() time.Time
}

// NewProgress starts a progress report for total steps (total <= 0: unknown).
func NewProgress(total int) *Progress {
	p := &Progress{total: int64(total), unit: "it", w: os.Stderr, terminal: isTerminal(os.Stderr), notebook: InNotebook(), now: time.Now}
	p.start = p.now()
	p.interval = 100 * time.Millisecond
	if p.notebook {
		p.displayID = "mlkv-progress-" + gonbui.UniqueId()
		p.interval = 250 * time.Millisecond
	}
	return p
}

// Title sets the text shown at the start of the line.
func (p *Progress) Title(title string) *Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.title = title
	return p
}

// Unit names what is counted (default "it"), shown in the rate.
func (p *Progress) Unit(unit string) *Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unit = unit
	return p
}

// LogInterval is the least time between two lines when the output is not a terminal.
const LogInterval = 5 * time.Second

// Writer sets where the line goes (default os.Stderr; nil: nowhere). Not used in a notebook. A terminal
// gets one line redrawn in place; any other writer gets whole lines, at most one every LogInterval.
func (p *Progress) Writer(w io.Writer) *Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w = w
	p.terminal = isTerminal(w)
	return p
}

// isTerminal reports whether w is a character device (a terminal), not a file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Message sets the message at the end of the line (e.g. "epoch 3: loss 0.412") and redraws.
func (p *Progress) Message(msg string) *Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msg = msg
	p.drawLocked(false)
	return p
}

// SetTotal changes the number of steps (e.g. once it is known).
func (p *Progress) SetTotal(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = int64(total)
	p.drawLocked(false)
}

// Add records n more steps done.
func (p *Progress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(n)
	p.drawLocked(false)
}

// Set records that done steps are done.
func (p *Progress) Set(done int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = int64(done)
	p.drawLocked(false)
}

// Done draws the final state (ending the terminal line) and stops updates. Calling it again is a no-op.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.drawLocked(true)
	p.finished = true
	if p.notebook {
		gonbui.Sync()
	} else if p.w != nil && p.terminal {
		fmt.Fprintln(p.w) // end the line redrawn in place
	}
}

// String returns the current progress line, e.g.
// "embedding [#######-------------] 350/1000 35%  12.5 img/s  ETA 52s  batch 11".
func (p *Progress) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lineLocked()
}

func (p *Progress) lineLocked() string {
	var b strings.Builder
	if p.title != "" {
		b.WriteString(p.title + " ")
	}
	elapsed := p.now().Sub(p.start)
	if p.total > 0 {
		frac := math.Min(1, math.Max(0, float64(p.done)/float64(p.total)))
		const width = 20
		filled := int(math.Round(frac * width))
		fmt.Fprintf(&b, "[%s%s] %d/%d %3.0f%%", strings.Repeat("#", filled), strings.Repeat("-", width-filled), p.done, p.total, 100*frac)
	} else {
		fmt.Fprintf(&b, "%d", p.done)
	}
	if secs := elapsed.Seconds(); secs > 0 && p.done > 0 {
		rate := float64(p.done) / secs
		if rate >= 10 {
			fmt.Fprintf(&b, "  %.0f %s/s", rate, p.unit)
		} else {
			fmt.Fprintf(&b, "  %.2f %s/s", rate, p.unit)
		}
		if p.total > 0 && p.done < p.total {
			eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
			b.WriteString("  ETA " + ShortDuration(eta))
		} else if p.total > 0 {
			b.WriteString("  in " + ShortDuration(elapsed))
		}
	}
	if p.msg != "" {
		b.WriteString("  " + strings.NewReplacer("\r", " ", "\n", " ").Replace(p.msg))
	}
	return b.String()
}

// ShortDuration prints d as "42s", "3m05s" or "1h02m", as progress lines do: the one format for
// durations shown next to them (e.g. a trained model's summary line).
func ShortDuration(d time.Duration) string {
	s := int64(math.Round(d.Seconds()))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	}
}

// drawLocked redraws when the last draw is older than the interval, or when final.
func (p *Progress) drawLocked(final bool) {
	if p.finished {
		return
	}
	now := p.now()
	if !final && !p.last.IsZero() && now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	line := p.lineLocked()
	if p.notebook {
		gonbui.UpdateHTML(p.displayID, p.htmlLocked(line))
		return
	}
	if p.w == nil {
		return
	}
	if !p.terminal {
		// A log: whole lines, the first at once, then at most one per LogInterval, and the final one.
		if !final && !p.lastLine.IsZero() && now.Sub(p.lastLine) < LogInterval {
			return
		}
		p.lastLine = now
		fmt.Fprintln(p.w, line)
		return
	}
	n := utf8.RuneCountInString(line)
	pad := ""
	if n < p.lastLen {
		pad = strings.Repeat(" ", p.lastLen-n)
	}
	p.lastLen = n
	fmt.Fprint(p.w, "\r"+line+pad)
}

// htmlLocked renders the line with a progress bar for notebooks (escaped).
func (p *Progress) htmlLocked(line string) string {
	pct := 0.0
	if p.total > 0 {
		pct = math.Min(100, math.Max(0, 100*float64(p.done)/float64(p.total)))
	}
	return fmt.Sprintf(`<div style="font:12px monospace">`+
		`<div style="display:inline-block;vertical-align:middle;margin:0 8px 0 0;width:160px;height:10px;background:#e0e0e0;border-radius:3px;overflow:hidden">`+
		`<div style="width:%.1f%%;height:100%%;background:#4e79a7"></div></div><span style="vertical-align:middle">%s</span></div>`, pct, esc(line))
}

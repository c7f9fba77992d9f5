package view

import (
	"bytes"
	"fmt"
	"image"
	_ "image/png" // image.DecodeConfig of the PNGs Live sends
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
)

// updateHTML is the notebook's in-place display update, replaced by tests to see what would be sent.
var updateHTML = gonbui.UpdateHTML

// Live is one notebook output that a long run redraws in place (training curves after every epoch): each
// Update replaces what the output shows, through a transient display id (gonbui.UpdateHTML), so the cell
// shows one chart that changes rather than a stack of them, and the notebook saved at the end holds its
// last state. The chart is sent as a PNG inside the HTML, so it shows the same in an untrusted notebook.
// Outside a notebook (go run, go test, the CLI) Update does nothing and renders nothing.
//
//	live := view.NewLive()
//	for epoch := range epochs { ...; live.Update(curves(history)) }
//	live.Finish(curves(history))
type Live struct {
	mu       sync.Mutex
	id       string
	notebook bool
	updates  int
	finished bool
}

// NewLive returns a Live output; nothing is displayed before the first Update.
func NewLive() *Live {
	return &Live{id: uniqueID("live"), notebook: InNotebook()}
}

// Active reports whether Update displays anything (running in a notebook).
func (l *Live) Active() bool { return l.notebook }

// Updates returns how many times the output was drawn.
func (l *Live) Updates() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.updates
}

// Update redraws the output with r drawn as a PNG. It is a no-op outside a notebook, and after Finish.
func (l *Live) Update(r Renderable) error { return l.draw(r, false) }

// Finish draws r as the output's final state and waits until the notebook has received it (gonbui.Sync),
// so the saved notebook holds it. Later Updates do nothing; a later Finish redraws the final state.
func (l *Live) Finish(r Renderable) error { return l.draw(r, true) }

func (l *Live) draw(r Renderable, final bool) error {
	if r == nil {
		return fmt.Errorf("view.Live: nil renderable")
	}
	if !l.notebook {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.finished && !final {
		return nil
	}
	data, err := r.PNG()
	if err != nil {
		return fmt.Errorf("view.Live: rendering PNG: %w", err)
	}
	alt := "chart"
	if t, ok := r.(titled); ok && t.titleText() != "" {
		alt = t.titleText()
	}
	h, err := liveHTML(data, alt)
	if err != nil {
		return err
	}
	updateHTML(l.id, h)
	l.updates++
	if final {
		l.finished = true
		displaySync()
	}
	return nil
}

// liveHTML is the HTML a Live output shows: the PNG at its size, shrunk to the output area's width when
// narrower (inline styles only: an untrusted notebook keeps them).
func liveHTML(data []byte, alt string) (string, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("view.Live: reading the size of the rendered PNG: %w", err)
	}
	return fmt.Sprintf(`<div style="max-width:100%%"><img src="%s" width="%d" height="%d" alt="%s" style="max-width:100%%;height:auto"></div>`,
		dataURI("image/png", data), cfg.Width, cfg.Height, esc(alt)), nil
}

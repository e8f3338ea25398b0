package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws "[#####.....] done/total blocks, rate, ETA" on w: redrawn
// in place on a terminal (at most 10 times a second), a line every few
// seconds otherwise.
type progress struct {
	w           io.Writer
	label, unit string
	off, tty    bool

	mu          sync.Mutex
	start, last time.Time
	doneN, all  uint64
}

// newProgress draws label's progress in units (e.g. "fsck", "blocks") on
// w, unless off.
func newProgress(w io.Writer, label, unit string, off bool) *progress {
	p := &progress{w: w, label: label, unit: unit, off: off, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// update says done of total are done; safe for concurrent use.
func (p *progress) update(done, total uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.doneN, p.all = done, total
	if p.off {
		return
	}
	now := time.Now()
	every := 100 * time.Millisecond
	if !p.tty {
		every = 5 * time.Second
	}
	if done < total && now.Sub(p.last) < every {
		return
	}
	p.last = now
	p.draw(now)
}

func (p *progress) draw(now time.Time) {
	const width = 30
	filled := width
	if p.all > 0 {
		filled = int(uint64(width) * p.doneN / p.all)
	}
	secs := now.Sub(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(p.doneN) / secs
	}
	eta := ""
	if rate > 0 && p.doneN < p.all {
		eta = fmt.Sprintf(", %s left", time.Duration(float64(p.all-p.doneN)/rate*float64(time.Second)).Round(time.Second))
	}
	line := fmt.Sprintf("%s [%s%s] %d/%d %s, %.0f %s/s%s", p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.doneN, p.all, p.unit, rate, p.unit, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r%-80s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// done draws the final state (once the check has ended).
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off || p.last.IsZero() {
		return
	}
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

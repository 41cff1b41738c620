// Package progress shows the progress of long operator work (a backfill, a
// reconcile, a replay) item by item: on a terminal one bar per item redrawn
// in place; anywhere else (a CI log, a pipe, a file) one structured line per
// item per update, throttled, which log collectors parse.
//
// The display knows nothing about where the figures come from: callers read
// them (usually from the state store, so another process may be doing the
// work) and hand them to Update as often as they like.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// Item is one unit of work's state: a resource being backfilled, a
// pipeline being reconciled.
type Item struct {
	Name string
	// Records done so far, and the expected total (0: unknown).
	Records, Total int64
	// Pages read so far, and the expected number (0: unknown).
	Pages, PagesTotal int64
	// Done: the item finished; Failed: it stopped with Note as the reason.
	Done, Failed bool
	// Note is a short free-form remark ("waiting until 02:00 local").
	Note string
}

// Options tune a Display. The zero value is a sensible default.
type Options struct {
	// Terminal forces (true) or forbids (false) bars; nil detects it from
	// the writer (an *os.File on a tty, and NO_COLOR unset).
	Terminal *bool
	// JSON writes structured lines as JSON instead of logfmt.
	JSON bool
	// Interval is the least time between two structured lines of one item
	// (default 10s); a state change (done, failed, a new note) is written
	// at once. Bars are redrawn on every Update.
	Interval time.Duration
	// Width of a bar in cells (default 30).
	Width int
	// Now is the clock rates and ETAs are computed with (default time.Now).
	Now func() time.Time
}

// Display shows items' progress on one writer. It is safe for concurrent
// use.
type Display struct {
	mu       sync.Mutex
	w        io.Writer
	opt      Options
	terminal bool
	log      *slog.Logger
	items    map[string]*tracked
	order    []string
	drawn    int // lines of the last bar drawing, to move the cursor up over
}

// tracked is what the display remembers of an item: where its rate is
// measured from and when it last wrote a line.
type tracked struct {
	first      Item
	firstAt    time.Time
	last       Item
	lastAt     time.Time
	written    time.Time // last structured line
	wroteState string    // done/failed/note at the last structured line
}

// New returns a display writing to w.
func New(w io.Writer, opt Options) *Display {
	if opt.Interval <= 0 {
		opt.Interval = 10 * time.Second
	}
	if opt.Width <= 0 {
		opt.Width = 30
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	term := IsTerminal(w)
	if opt.Terminal != nil {
		term = *opt.Terminal
	}
	d := &Display{w: w, opt: opt, terminal: term, items: map[string]*tracked{}}
	if !term {
		ho := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				// The display's clock, not the handler's, so tests are exact.
				return slog.Attr{}
			}
			return a
		}}
		var h slog.Handler = slog.NewTextHandler(w, ho)
		if opt.JSON {
			h = slog.NewJSONHandler(w, ho)
		}
		d.log = slog.New(h)
	}
	return d
}

// IsTerminal reports whether w is an interactive terminal that bars can be
// drawn on.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("NO_COLOR") == "" && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// Terminal reports whether the display draws bars.
func (d *Display) Terminal() bool { return d.terminal }

// Update records the items' current state and shows it. Items keep the
// order they were first seen in.
func (d *Display) Update(items []Item) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.opt.Now()
	for _, it := range items {
		t := d.items[it.Name]
		if t == nil {
			t = &tracked{first: it, firstAt: now}
			d.items[it.Name] = t
			d.order = append(d.order, it.Name)
		}
		if it.Records < t.first.Records {
			// The work restarted from less (a new scan): measure anew.
			t.first, t.firstAt = it, now
		}
		t.last, t.lastAt = it, now
	}
	if d.terminal {
		d.draw()
		return
	}
	for _, name := range d.order {
		t := d.items[name]
		state := stateOf(t.last)
		if t.lastAt != now || (state == t.wroteState && !t.written.IsZero() && now.Sub(t.written) < d.opt.Interval) {
			continue
		}
		d.line(t, now)
		t.written, t.wroteState = now, state
	}
}

// Close ends the display: bars get their final drawing and a newline
// stays after them; every item's last state not yet written as a line is
// written.
func (d *Display) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.terminal {
		d.draw()
		d.drawn = 0
		return
	}
	now := d.opt.Now()
	for _, name := range d.order {
		t := d.items[name]
		if t.written.Before(t.lastAt) || t.written.IsZero() {
			d.line(t, now)
			t.written = now
		}
	}
}

func stateOf(it Item) string {
	return fmt.Sprintf("%t/%t/%s", it.Done, it.Failed, it.Note)
}

// rate is records per second since the item was first seen, and whether
// there is enough to tell.
func (t *tracked) rate() (float64, bool) {
	dt := t.lastAt.Sub(t.firstAt).Seconds()
	dr := t.last.Records - t.first.Records
	if dt <= 0 || dr <= 0 {
		return 0, false
	}
	return float64(dr) / dt, true
}

// eta is the time left at the measured rate.
func (t *tracked) eta() (time.Duration, bool) {
	r, ok := t.rate()
	if !ok || t.last.Total <= 0 || t.last.Done {
		return 0, false
	}
	left := max(t.last.Total-t.last.Records, 0)
	return time.Duration(float64(left) / r * float64(time.Second)).Round(time.Second), true
}

// line writes one structured line for an item.
func (d *Display) line(t *tracked, now time.Time) {
	it := t.last
	attrs := []any{"item", it.Name, "records", it.Records}
	if it.Total > 0 {
		attrs = append(attrs, "total", it.Total, "percent", percent(it.Records, it.Total))
	}
	attrs = append(attrs, "pages", it.Pages)
	if it.PagesTotal > 0 {
		attrs = append(attrs, "pages_total", it.PagesTotal)
	}
	if r, ok := t.rate(); ok {
		attrs = append(attrs, "rate", fmt.Sprintf("%.1f/s", r))
	}
	if e, ok := t.eta(); ok {
		attrs = append(attrs, "eta", e.String())
	}
	state := "running"
	switch {
	case it.Failed:
		state = "failed"
	case it.Done:
		state = "done"
	}
	attrs = append(attrs, "state", state)
	if it.Note != "" {
		attrs = append(attrs, "note", it.Note)
	}
	d.log.Info("progress", attrs...)
}

func percent(n, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return min(n*100/total, 100)
}

// draw redraws every bar in place: the cursor goes back up over the last
// drawing and each line is cleared before it is written.
func (d *Display) draw() {
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.drawn)
	}
	width := 0
	for _, name := range d.order {
		width = max(width, len(name))
	}
	for _, name := range d.order {
		b.WriteString("\r\x1b[2K")
		b.WriteString(d.bar(d.items[name], width))
		b.WriteByte('\n')
	}
	d.drawn = len(d.order)
	_, _ = io.WriteString(d.w, b.String())
}

// bar renders one item: name, bar, records, pages, rate and ETA.
func (d *Display) bar(t *tracked, nameWidth int) string {
	it := t.last
	fill := 0
	switch {
	case it.Done:
		fill = d.opt.Width
	case it.Total > 0:
		fill = int(min(it.Records*int64(d.opt.Width)/it.Total, int64(d.opt.Width)))
	}
	s := fmt.Sprintf("%-*s [%s%s] %s", nameWidth, it.Name, strings.Repeat("#", fill), strings.Repeat(".", d.opt.Width-fill),
		count(it.Records, it.Total, "records"))
	s += "  " + count(it.Pages, it.PagesTotal, "pages")
	if r, ok := t.rate(); ok && !it.Done {
		s += fmt.Sprintf("  %.1f rec/s", r)
	}
	if e, ok := t.eta(); ok {
		s += "  ETA " + e.String()
	}
	switch {
	case it.Failed:
		s += "  failed"
	case it.Done:
		s += "  done"
	}
	if it.Note != "" {
		s += "  (" + it.Note + ")"
	}
	return s
}

func count(n, total int64, unit string) string {
	if total > 0 {
		return fmt.Sprintf("%d/%d %s", n, total, unit)
	}
	return fmt.Sprintf("%d %s", n, unit)
}

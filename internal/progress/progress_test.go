package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTest(terminal, js bool) (*Display, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	d := New(&buf, Options{Terminal: &terminal, JSON: js, Interval: 10 * time.Second, Now: clk.now})
	return d, &buf, clk
}

func TestStructuredLinesThrottled(t *testing.T) {
	d, buf, clk := newTest(false, false)
	d.Update([]Item{{Name: "users", Records: 0, Total: 1000, Pages: 0, PagesTotal: 67}})
	clk.t = clk.t.Add(2 * time.Second)
	d.Update([]Item{{Name: "users", Records: 100, Total: 1000, Pages: 7, PagesTotal: 67}}) // throttled
	clk.t = clk.t.Add(8 * time.Second)
	d.Update([]Item{{Name: "users", Records: 500, Total: 1000, Pages: 34, PagesTotal: 67}})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines (the second update throttled), got %d:\n%s", len(lines), buf)
	}
	want := `level=INFO msg=progress item=users records=500 total=1000 percent=50 pages=34 pages_total=67 rate=50.0/s eta=10s state=running`
	if lines[1] != want {
		t.Fatalf("line:\n got %s\nwant %s", lines[1], want)
	}
	// A state change is written at once, whatever the interval.
	clk.t = clk.t.Add(time.Second)
	d.Update([]Item{{Name: "users", Records: 1000, Total: 1000, Pages: 67, PagesTotal: 67, Done: true}})
	if !strings.Contains(buf.String(), "state=done") {
		t.Fatalf("done not written at once:\n%s", buf)
	}
	n := strings.Count(buf.String(), "\n")
	d.Close()
	if got := strings.Count(buf.String(), "\n"); got != n {
		t.Fatalf("Close rewrote an item already written: %d lines, then %d", n, got)
	}
}

func TestCloseWritesThrottledState(t *testing.T) {
	d, buf, clk := newTest(false, true)
	d.Update([]Item{{Name: "a", Records: 1}})
	clk.t = clk.t.Add(time.Second)
	d.Update([]Item{{Name: "a", Records: 7}})
	d.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got:\n%s", buf)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil {
		t.Fatalf("JSON line: %v: %s", err, lines[1])
	}
	if m["item"] != "a" || m["records"] != float64(7) || m["state"] != "running" {
		t.Fatalf("last line: %v", m)
	}
	if _, ok := m["time"]; ok {
		t.Fatalf("line carries the wall time: %v", m)
	}
}

func TestBarsRedrawInPlace(t *testing.T) {
	d, buf, clk := newTest(true, false)
	d.Update([]Item{{Name: "users", Total: 100, PagesTotal: 10}, {Name: "projects", Total: 0}})
	first := buf.String()
	if strings.Contains(first, "\x1b[2A") {
		t.Fatalf("first drawing moved the cursor up: %q", first)
	}
	clk.t = clk.t.Add(10 * time.Second)
	d.Update([]Item{{Name: "users", Records: 50, Total: 100, Pages: 5, PagesTotal: 10}, {Name: "projects", Records: 3, Pages: 1, Done: true}})
	second := buf.String()[len(first):]
	if !strings.HasPrefix(second, "\x1b[2A") {
		t.Fatalf("second drawing does not go back up over two bars: %q", second)
	}
	want := "users    [###############...............] 50/100 records  5/10 pages  5.0 rec/s  ETA 10s"
	if !strings.Contains(second, "\r\x1b[2K"+want+"\n") {
		t.Fatalf("users bar:\n got %q\nwant %q", second, want)
	}
	if !strings.Contains(second, "projects [##############################] 3 records  1 pages  done\n") {
		t.Fatalf("projects bar: %q", second)
	}
}

func TestRestartMeasuresAnew(t *testing.T) {
	d, buf, clk := newTest(false, false)
	d.Update([]Item{{Name: "a", Records: 100, Total: 200}})
	clk.t = clk.t.Add(20 * time.Second)
	d.Update([]Item{{Name: "a", Records: 10, Total: 200, Note: "restarted"}})
	clk.t = clk.t.Add(10 * time.Second)
	d.Update([]Item{{Name: "a", Records: 60, Total: 200, Note: "restarted"}})
	if !strings.Contains(buf.String(), "rate=5.0/s") {
		t.Fatalf("rate not measured from the restart:\n%s", buf)
	}
}

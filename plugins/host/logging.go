package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// tailLines is how many of a plugin's last stderr lines an error carries.
const tailLines = 20

// tail keeps a plugin's last stderr lines. go-plugin writes each raw
// stderr line to it (possibly in pieces, then "\n").
type tail struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range p {
		if c != '\n' {
			if len(t.partial) < 4096 {
				t.partial = append(t.partial, c)
			}
			continue
		}
		t.add(string(t.partial))
		t.partial = t.partial[:0]
	}
	return len(p), nil
}

func (t *tail) add(line string) {
	line = readable(line)
	if line == "" {
		return
	}
	if len(t.lines) == tailLines {
		copy(t.lines, t.lines[1:])
		t.lines = t.lines[:tailLines-1]
	}
	t.lines = append(t.lines, line)
}

// reset forgets the lines of a previous process.
func (t *tail) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines, t.partial = nil, t.partial[:0]
}

// Lines returns a copy of the kept lines, oldest first.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// readable turns an hclog JSON line into "level: message"; other lines are
// kept as they are.
func readable(line string) string {
	line = strings.TrimRight(line, "\r")
	if !strings.HasPrefix(line, "{") {
		return line
	}
	var e map[string]any
	if json.Unmarshal([]byte(line), &e) != nil {
		return line
	}
	msg, _ := e["@message"].(string)
	level, _ := e["@level"].(string)
	if msg == "" {
		return line
	}
	var extra []string
	for k, v := range e {
		if !strings.HasPrefix(k, "@") && k != "timestamp" {
			extra = append(extra, fmt.Sprintf("%s=%v", k, v))
		}
	}
	out := level + ": " + msg
	if len(extra) > 0 {
		out += " " + strings.Join(extra, " ")
	}
	return out
}

// hclogFor returns the hclog logger go-plugin uses for one plugin: it
// writes nothing itself and forwards every entry, including the plugin's
// own log lines go-plugin parses from its stderr, to slog.
func hclogFor(l *slog.Logger) hclog.Logger {
	level := hclog.Info
	if l.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Output: io.Discard, Level: level})
	il.RegisterSink(slogSink{l})
	return il
}

type slogSink struct{ l *slog.Logger }

func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	lv := slog.LevelInfo
	switch {
	case level <= hclog.Debug:
		lv = slog.LevelDebug
	case level == hclog.Warn:
		lv = slog.LevelWarn
	case level >= hclog.Error:
		lv = slog.LevelError
	}
	if !s.l.Enabled(context.Background(), lv) {
		return
	}
	attrs := make([]any, 0, len(args)+2)
	if name != "" {
		attrs = append(attrs, slog.String("logger", name))
	}
	for i := 0; i+1 < len(args); i += 2 {
		attrs = append(attrs, slog.Any(fmt.Sprint(args[i]), args[i+1]))
	}
	s.l.Log(context.Background(), lv, msg, attrs...)
}

// lineLogger logs each line written to it: what a plugin prints on its
// os.Stdout or os.Stderr after the handshake (go-plugin relays them).
type lineLogger struct {
	l      *slog.Logger
	stream string
	t      *tail
	mu     sync.Mutex
	buf    []byte
}

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		w.l.Info(line, "stream", w.stream)
		if w.t != nil {
			_, _ = w.t.Write([]byte(line + "\n"))
		}
	}
	if len(w.buf) > 64<<10 {
		w.l.Info(string(w.buf), "stream", w.stream)
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

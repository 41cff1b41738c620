package memory

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// change is one accepted write, as kept in memory and in the log.
type change struct {
	Tenant    string         `json:"tenant"`
	Object    string         `json:"object"`
	Key       string         `json:"key"`
	Version   sdk.Version    `json:"version"`
	Hash      string         `json:"hash"`
	Tombstone bool           `json:"tombstone,omitempty"`
	Fields    map[string]any `json:"fields,omitempty"`
}

// changeLog appends changes as JSON lines. JSON has one number type, so
// int64 and time.Time field values are written tagged ({"$int": "…"},
// {"$time": "…"}) and come back with their Go types.
type changeLog struct {
	f *os.File
	w *bufio.Writer
}

// openChangeLog replays the log at path through apply, then opens it for
// appending. A torn last line (the process died mid-write) is ignored.
func openChangeLog(path string, apply func(change)) (*changeLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(f)
	var good int64
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		var c change
		if json.Unmarshal(line, &c) != nil {
			break
		}
		c.Fields, _ = untag(c.Fields).(map[string]any)
		apply(c)
		good += int64(len(line))
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &changeLog{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (l *changeLog) append(c change) error {
	c.Fields, _ = tag(c.Fields).(map[string]any)
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode %s: %w", c.Key, err)
	}
	_, err = l.w.Write(append(b, '\n'))
	return err
}

// flush hands the appended lines to the OS, so they survive the plugin
// process being killed (not a machine crash: there is no fsync).
func (l *changeLog) flush() error { return l.w.Flush() }

func (l *changeLog) close() error {
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func tag(v any) any {
	switch x := v.(type) {
	case int64:
		return map[string]any{"$int": strconv.FormatInt(x, 10)}
	case time.Time:
		return map[string]any{"$time": x.Format(time.RFC3339Nano)}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = tag(e)
		}
		return out
	case map[string]any:
		if x == nil {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = tag(e)
		}
		return out
	}
	return v
}

func untag(v any) any {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			x[i] = untag(e)
		}
	case map[string]any:
		if len(x) == 1 {
			if s, ok := x["$int"].(string); ok {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					return n
				}
			}
			if s, ok := x["$time"].(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					return t
				}
			}
		}
		for k, e := range x {
			x[k] = untag(e)
		}
	}
	return v
}

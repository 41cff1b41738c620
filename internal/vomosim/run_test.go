package vomosim

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMainPrintsCurlableTokens runs the binaries' entry point: the
// adversarial scenario lists 50 tenants, and a printed token works.
func TestMainPrintsCurlableTokens(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, "vomosim", []string{"--scenario", "adversarial", "--users", "20", "--addr", "127.0.0.1:0"}, &out, &errOut)
	}()
	var text string
	for i := 0; i < 600 && !strings.Contains(text, "try: curl"); i++ {
		select {
		case err := <-done:
			t.Fatalf("Main returned early: %v %s", err, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		text = out.String()
	}
	if n := strings.Count(text, "\ntenant t"); n != 50 {
		t.Fatalf("%d tenants listed:\n%s", n, text)
	}
	base := regexp.MustCompile(`base URL:\s+(\S+)`).FindStringSubmatch(text)
	tok := regexp.MustCompile(`tenant t017 org=\d+ token=(\S+)`).FindStringSubmatch(text)
	if base == nil || tok == nil || !strings.Contains(text, "control URL:") {
		t.Fatalf("start-up output lacks the base URL, a token or the control URL:\n%s", text)
	}
	status := 0
	for try := 0; try < 20 && status != 200; try++ { // the scenario injects faults
		status, _, _ = call(t, "GET", base[1]+"/organizations", tok[1], "")
	}
	if status != 200 {
		t.Errorf("curl with a printed token: %d", status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Main: %v", err)
	}
}

// TestMainRejectsBadFlags checks the flag errors users see.
func TestMainRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--scenario", "nope"}, {"--users", "2000000"}, {"--clock-scale", "0"}, {"--clock-scale", "60", "--clock-epoch", "yesterday"}, {"extra"}, {"--bogus"}} {
		var out, errOut syncBuffer
		if err := Main(context.Background(), "vomosim", args, &out, &errOut); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

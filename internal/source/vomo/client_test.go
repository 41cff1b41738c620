package vomo

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// usersRes is the /users resource as the demo pipelines declare it.
var usersRes = Resource{Path: "/users", CursorParam: "updated_after", CreatedBeforeParam: "created_before",
	Overlap: 2 * time.Minute, Settle: 30 * time.Second}

// statusFault answers request numbers in `at` with the given response.
func statusFault(at map[int]bool, code int, header map[string]string, body string) func(http.ResponseWriter, *http.Request, int) bool {
	return func(w http.ResponseWriter, r *http.Request, n int) bool {
		if at != nil && !at[n] {
			return false
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		if strings.HasPrefix(body, "<") {
			w.Header().Set("Content-Type", "text/html")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
		return true
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name     string
		code     int
		body     string
		kind     error
		attempts int // requests the client makes
		text     string
	}{
		{name: "401 revoked", code: 401, body: `{"message":"Unauthenticated."}`, kind: ErrUnauthorized, attempts: 1, text: "GET acme /users page 1: 401 unauthorized: Unauthenticated."},
		{name: "403 scope", code: 403, body: `{"message":"This action is unauthorized."}`, kind: ErrForbidden, attempts: 1, text: "403 forbidden"},
		{name: "404", code: 404, body: `{"message":"Not Found"}`, kind: ErrNotFound, attempts: 1, text: "404 not found"},
		{name: "422 fields", code: 422, body: `{"message":"The given data was invalid.","errors":{"email":["The email must be a valid email address."]}}`, kind: ErrValidation, attempts: 1, text: "email: The email must be a valid email address."},
		{name: "400", code: 400, body: `{"message":"bad"}`, kind: ErrStatus, attempts: 1, text: "400 unexpected status"},
		{name: "500 json", code: 500, body: `{"message":"Server Error"}`, kind: ErrTransient, attempts: 4, text: "500 transient failure: Server Error after 4 attempts"},
		{name: "502 html", code: 502, body: `<html><h1>502 Bad Gateway</h1></html>`, kind: ErrTransient, attempts: 4, text: "502 transient failure: HTML body"},
		{name: "503", code: 503, body: ``, kind: ErrTransient, attempts: 4, text: "503"},
		{name: "200 html", code: 200, body: `<html>maintenance</html>`, kind: ErrMalformed, attempts: 4, text: "HTML body"},
		{name: "200 truncated", code: 200, body: `{"data":[{"id":1},{"id"`, kind: ErrMalformed, attempts: 4, text: "truncated JSON"},
		{name: "200 no data", code: 200, body: `{"meta":{"current_page":1,"per_page":15,"total":3}}`, kind: ErrMalformed, attempts: 4, text: "no data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, 3)
			f.fault = statusFault(nil, tt.code, nil, tt.body)
			var failures atomic.Int32
			c := f.client(t, func(c *Config) { c.Hooks.OnFailure = func(error) { failures.Add(1) } })
			p := Progress{Mode: modeScan, Path: "/users", Cap: f.clk.Now()}
			var col collector
			res, err := c.Scan(context.Background(), usersRes, p, col.fn)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			if res.Complete || len(col.pages) != 0 {
				t.Fatalf("an error must leave the scan incomplete with no pages: %+v", res)
			}
			if f.n != tt.attempts {
				t.Fatalf("%d requests, want %d", f.n, tt.attempts)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("error %q lacks %q", err, tt.text)
			}
			var e *Error
			if !errors.As(err, &e) || e.Tenant != "acme" || e.Path != "/users" || e.Page != 1 {
				t.Fatalf("error lacks its context: %#v", e)
			}
			if tt.kind == ErrValidation && e.Fields["email"] == nil {
				t.Fatalf("422 fields lost: %#v", e.Fields)
			}
			retried := tt.kind == ErrTransient || tt.kind == ErrMalformed
			if retried != (failures.Load() == int32(tt.attempts)) {
				t.Fatalf("breaker saw %d failures", failures.Load())
			}
		})
	}
}

func TestRetryRecovers(t *testing.T) {
	f := newFake(t, 5)
	f.fault = statusFault(map[int]bool{1: true, 2: true}, 200, nil, `{"data":[{"id":1}`) // truncated twice
	var slept []time.Duration
	c := f.client(t, func(c *Config) {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			slept = append(slept, d)
			f.clk.Advance(d)
			return nil
		}
		c.Jitter = func(d time.Duration) time.Duration { return d } // the ceiling
	})
	c.Offset().Set(0)
	p, _ := c.NewScan(context.Background(), usersRes)
	var col collector
	res, err := c.Scan(context.Background(), usersRes, p, col.fn)
	if err != nil || !res.Complete || len(col.ids) != 5 {
		t.Fatalf("res %+v err %v ids %d", res, err, len(col.ids))
	}
	// Full jitter below a doubling ceiling: 1s, then 2s.
	if len(slept) != 2 || slept[0] != time.Second || slept[1] != 2*time.Second {
		t.Fatalf("backoffs %v", slept)
	}
}

func TestRetryAfter(t *testing.T) {
	f := newFake(t, 5)
	var at []time.Time
	f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		at = append(at, f.clk.Now())
		if n == 1 {
			return statusFault(nil, 429, map[string]string{"Retry-After": "7", "X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "60"}, `{"message":"Too Many Attempts."}`)(w, r, n)
		}
		return false
	}
	var drained []time.Duration
	var limiterCalls atomic.Int32
	var infos []RequestInfo
	c := f.client(t, func(c *Config) {
		c.Hooks.OnRateLimited = func(d time.Duration) { drained = append(drained, d) }
		c.Hooks.OnRequest = func(i RequestInfo) { infos = append(infos, i) }
		c.Limiter = limiterFunc(func(context.Context) error { limiterCalls.Add(1); return nil })
	})
	c.Offset().Set(0)
	p, _ := c.NewScan(context.Background(), usersRes)
	var col collector
	if _, err := c.Scan(context.Background(), usersRes, p, col.fn); err != nil {
		t.Fatal(err)
	}
	if len(at) != 2 || at[1].Sub(at[0]) < 7*time.Second {
		t.Fatalf("asked again %v after a Retry-After of 7s", at[1].Sub(at[0]))
	}
	if len(drained) != 1 || drained[0] != 7*time.Second {
		t.Fatalf("budget drain calls: %v", drained)
	}
	if limiterCalls.Load() != 2 || len(infos) != 2 || infos[0].Status != 429 || infos[0].RateRemaining != 0 || infos[0].RateLimit != 60 {
		t.Fatalf("limiter %d, infos %+v", limiterCalls.Load(), infos)
	}
}

type limiterFunc func(context.Context) error

func (l limiterFunc) Wait(ctx context.Context) error { return l(ctx) }

func TestRetryAfterTooLong(t *testing.T) {
	f := newFake(t, 5)
	f.fault = statusFault(map[int]bool{1: true}, 429, map[string]string{"Retry-After": "600"}, `{"message":"Too Many Attempts."}`)
	c := f.client(t, nil)
	c.Offset().Set(0)
	start := f.clk.Now()
	_, err := c.Estimate(context.Background(), usersRes)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrRateLimited) || e.RetryAfter != 10*time.Minute || !e.Until.Equal(start.Add(10*time.Minute)) {
		t.Fatalf("err %v (%#v)", err, e)
	}
	// Until it passes, the client does not ask again at all.
	_, err = c.Estimate(context.Background(), usersRes)
	if !errors.Is(err, ErrRateLimited) || f.n != 1 {
		t.Fatalf("second call: %v after %d requests", err, f.n)
	}
	f.clk.Advance(10 * time.Minute)
	if _, err := c.Estimate(context.Background(), usersRes); err != nil || f.n != 2 {
		t.Fatalf("after Retry-After: %v, %d requests", err, f.n)
	}
}

func TestRateLimitNeverClears(t *testing.T) {
	f := newFake(t, 5)
	f.fault = statusFault(nil, 429, map[string]string{"Retry-After": "5"}, `{"message":"Too Many Attempts."}`)
	c := f.client(t, nil)
	c.Offset().Set(0)
	p, _ := c.NewScan(context.Background(), usersRes)
	res, err := c.Scan(context.Background(), usersRes, p, (&collector{}).fn)
	if !errors.Is(err, ErrRateLimited) || res.Complete {
		t.Fatalf("res %+v err %v", res, err)
	}
	if f.n != 4 {
		t.Fatalf("%d requests, want the 4 attempts", f.n)
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	f := newFake(t, 3)
	tok := f.token
	cases := []func(http.ResponseWriter, *http.Request, int) bool{
		statusFault(nil, 401, nil, `{"message":"Token `+tok+` revoked."}`),
		statusFault(nil, 403, nil, `{"message":"`+tok+`"}`),
		statusFault(nil, 422, nil, `{"message":"x","errors":{"token":["`+tok+` is bad"]}}`),
		statusFault(nil, 500, nil, `<html>`+tok+`</html>`),
		statusFault(nil, 429, map[string]string{"Retry-After": "1"}, `{"message":"`+tok+`"}`),
		statusFault(nil, 200, nil, `{"data":"`+tok+`"`),
		func(w http.ResponseWriter, r *http.Request, n int) bool { // connection dropped
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return true
		},
	}
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for i, fault := range cases {
		f.fault = fault
		c := f.client(t, func(c *Config) { c.Logger = logger })
		c.Offset().Set(0)
		_, err := c.Estimate(context.Background(), usersRes)
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		if strings.Contains(err.Error(), tok) {
			t.Fatalf("case %d: token in error %q", i, err)
		}
		if !strings.Contains(err.Error(), "acme /users") {
			t.Fatalf("case %d: error lacks context: %q", i, err)
		}
	}
	if logBuf.Len() == 0 {
		t.Fatal("expected retry logs")
	}
	if strings.Contains(logBuf.String(), tok) {
		t.Fatal("token in log output")
	}
	for _, u := range f.urls {
		if strings.Contains(u, tok) {
			t.Fatalf("token in URL %s", u)
		}
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	f := newFake(t, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			f.mu.Unlock()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			f.mu.Lock()
			return true
		}
		return false
	}
	c := f.client(t, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	c.Offset().Set(0)
	est, err := c.Estimate(context.Background(), usersRes)
	if err != nil || est.Total != 1 || f.n != 2 {
		t.Fatalf("est %+v err %v requests %d", est, err, f.n)
	}
}

func TestUnauthorizedFromWrongToken(t *testing.T) {
	f := newFake(t, 1)
	c := f.client(t, func(c *Config) { c.Token = StaticToken("wrong") })
	c.Offset().Set(0)
	_, err := c.Estimate(context.Background(), usersRes)
	if !errors.Is(err, ErrUnauthorized) || f.n != 1 {
		t.Fatalf("err %v after %d requests", err, f.n)
	}
	c = f.client(t, func(c *Config) { c.Token = StaticToken("") })
	if _, err := c.Estimate(context.Background(), usersRes); !errors.Is(err, ErrUnauthorized) || f.n != 1 {
		t.Fatalf("empty token: %v", err)
	}
}

func TestCap(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		offset time.Duration
		settle time.Duration
		want   time.Time
	}{
		{"no offset", 0, 30 * time.Second, now.Add(-30 * time.Second)},
		{"API ahead of us: our clock is the earlier one", 5 * time.Minute, 30 * time.Second, now.Add(-30 * time.Second)},
		{"API behind us: the cap follows the API", -2 * time.Minute, 30 * time.Second, now.Add(-2*time.Minute - 30*time.Second)},
		{"sub-microsecond truncated", -1500 * time.Nanosecond, 0, now.Add(-2 * time.Microsecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Cap(now, tt.offset, tt.settle); !got.Equal(tt.want) {
				t.Fatalf("Cap = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClockOffsetFromDate(t *testing.T) {
	for _, skew := range []time.Duration{-3 * time.Minute, 0, 90 * time.Second} {
		f := newFake(t, 1)
		f.skew = skew
		c := f.client(t, nil)
		if _, known := c.Offset().Offset(); known {
			t.Fatal("offset known before any response")
		}
		if _, err := c.Estimate(context.Background(), usersRes); err != nil {
			t.Fatal(err)
		}
		got, known := c.Offset().Offset()
		// The Date header has whole seconds; the sample is its lower end.
		if !known || got > skew || got < skew-time.Second {
			t.Fatalf("skew %v: offset %v (known %v)", skew, got, known)
		}
	}
}

func TestNewClientRejects(t *testing.T) {
	for _, cfg := range []Config{
		{BaseURL: "https://api.vomo.org/v1"},
		{BaseURL: "api.vomo.org", Token: StaticToken("x")},
		{BaseURL: "https://user:pw@api.vomo.org/v1", Token: StaticToken("x")},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg.BaseURL)
		}
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"30", 30 * time.Second, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.v != "" {
			h.Set("Retry-After", tt.v)
		}
		got, ok := retryAfter(h, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Retry-After %q: %v %v", tt.v, got, ok)
		}
	}
}

func TestServiceUnavailableRetryAfter(t *testing.T) {
	f := newFake(t, 2)
	var at []time.Time
	f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		at = append(at, f.clk.Now())
		if n == 1 {
			return statusFault(nil, 503, map[string]string{"Retry-After": "20"}, `<html>maintenance</html>`)(w, r, n)
		}
		return false
	}
	var ok atomic.Int32
	c := f.client(t, func(c *Config) { c.Hooks.OnSuccess = func() { ok.Add(1) } })
	c.Offset().Set(0)
	if _, err := c.Estimate(context.Background(), usersRes); err != nil {
		t.Fatal(err)
	}
	if len(at) != 2 || at[1].Sub(at[0]) < 20*time.Second || ok.Load() != 1 {
		t.Fatalf("retried after %v, successes %d", at[1].Sub(at[0]), ok.Load())
	}
}

func TestBodyTooLarge(t *testing.T) {
	f := newFake(t, 20)
	c := f.client(t, func(c *Config) { c.MaxBody = 100 })
	c.Offset().Set(0)
	if _, err := c.Estimate(context.Background(), usersRes); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("%v", err)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	f := newFake(t, 2)
	f.fault = statusFault(nil, 500, nil, `{"message":"Server Error"}`)
	ctx, cancel := context.WithCancel(context.Background())
	c := f.client(t, func(c *Config) {
		c.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	})
	c.Offset().Set(0)
	_, err := c.Estimate(ctx, usersRes)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "GET acme /users page 1") || f.n != 1 {
		t.Fatalf("%v after %d requests", err, f.n)
	}
}

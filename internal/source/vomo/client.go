package vomo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
)

// RateLimiter is asked before every request (retries included). The
// runtime plugs in the store's GCRA budget; the default waits for nothing.
type RateLimiter interface {
	Wait(ctx context.Context) error
}

type noLimit struct{}

func (noLimit) Wait(context.Context) error { return nil }

// TokenFunc returns the tenant's bearer token. It is called for every
// request, so a rotated credential takes effect at once.
type TokenFunc func(ctx context.Context) (string, error)

// StaticToken returns a TokenFunc for a fixed token.
func StaticToken(token string) TokenFunc {
	return func(context.Context) (string, error) { return token, nil }
}

// Retry is the policy for transient failures, malformed bodies and 429s.
type Retry struct {
	Attempts   int           // tries per request in all, default 5
	Backoff    time.Duration // first backoff ceiling, default 1s
	MaxBackoff time.Duration // backoff ceiling, default 1m
}

// RequestInfo describes one HTTP attempt, for counting and metrics.
type RequestInfo struct {
	Tenant   string
	Method   string
	Path     string
	Page     int
	Attempt  int // 1 for the first try
	Status   int // 0 when no response arrived
	Duration time.Duration
	// RateLimit and RateRemaining are X-RateLimit-Limit and
	// X-RateLimit-Remaining, -1 when absent.
	RateLimit, RateRemaining int
	Err                      error // nil on success
}

// Hooks let the runtime count requests and drive its budget and breaker.
// Every hook is optional and must not block, except OnRateLimited (below).
type Hooks struct {
	// OnRequest is called after every attempt.
	OnRequest func(RequestInfo)
	// OnRateLimited is called on every 429 with its Retry-After (the
	// client's backoff when the answer had none), before the client waits
	// it out and before OnRequest. It may make one short store call: the
	// runtime drains the tenant's budget there, so that every worker of
	// the hub holds that tenant back, not only this client.
	OnRateLimited func(retryAfter time.Duration)
	// OnFailure is called for every transient failure or malformed body
	// (the source breaker counts these); OnSuccess for every 2xx that
	// parsed.
	OnFailure func(err error)
	OnSuccess func()
}

// Config configures a Client. BaseURL and Token are required.
type Config struct {
	BaseURL string // e.g. https://api.vomo.org/v1
	Tenant  string // names the tenant in errors and logs
	Token   TokenFunc
	// HTTPClient defaults to a client with no overall timeout (Timeout
	// bounds each attempt).
	HTTPClient *http.Client
	Timeout    time.Duration // per attempt, default 30s
	Retry      Retry
	// MaxRetryAfter is the longest Retry-After the client waits out in
	// place; a longer one returns ErrRateLimited at once (with Until) so the
	// runtime can reschedule. Default 65s (Laravel's window is 60s).
	MaxRetryAfter time.Duration
	// PerPage is the per_page asked for once; if the API honours it, it is
	// kept for every later list request of this client. Default 100; a
	// negative value never asks.
	PerPage int
	Limiter RateLimiter
	// Offset is the source's clock offset, shared by the clients of all its
	// tenants; nil gives the client its own.
	Offset *ClockOffset
	Clock  clock.Clock // default clock.Real
	// Sleep waits d or until ctx is done; tests inject one that moves a
	// manual clock. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a uniform duration in [0, d]; default math/rand/v2.
	Jitter    func(d time.Duration) time.Duration
	Hooks     Hooks
	Logger    *slog.Logger // default: discard
	UserAgent string
	MaxBody   int64 // largest body read, default 64 MiB
}

// Client talks to one tenant of one VOMO source. It is safe for
// concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
	clk  clock.Clock
	off  *ClockOffset
	lim  RateLimiter
	log  *slog.Logger

	mu           sync.Mutex
	blockedUntil time.Time // no request before this (429)
	perPage      perPageState
}

type perPageState struct {
	asked    bool // the preferred per_page was asked for once
	honoured bool // and the API answered with it
}

// New returns a client for one tenant.
func New(cfg Config) (*Client, error) {
	if cfg.Token == nil {
		return nil, errors.New("vomo: Config.Token is required")
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("vomo: base URL %q is not an absolute URL", cfg.BaseURL)
	}
	if base.User != nil || base.RawQuery != "" {
		return nil, errors.New("vomo: the base URL must carry no credentials or query")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Retry.Attempts <= 0 {
		cfg.Retry.Attempts = 5
	}
	if cfg.Retry.Backoff <= 0 {
		cfg.Retry.Backoff = time.Second
	}
	if cfg.Retry.MaxBackoff <= 0 {
		cfg.Retry.MaxBackoff = time.Minute
	}
	if cfg.Retry.MaxBackoff < cfg.Retry.Backoff {
		cfg.Retry.MaxBackoff = cfg.Retry.Backoff
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 65 * time.Second
	}
	if cfg.PerPage == 0 {
		cfg.PerPage = 100
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 20
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d + 1)
		}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "siphon-vomo"
	}
	c := &Client{cfg: cfg, base: base, hc: cfg.HTTPClient, clk: cfg.Clock, off: cfg.Offset, lim: cfg.Limiter, log: cfg.Logger}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.clk == nil {
		c.clk = clock.Real{}
	}
	if c.off == nil {
		c.off = &ClockOffset{}
	}
	if c.lim == nil {
		c.lim = noLimit{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Offset is the client's clock offset (shared per source when configured so).
func (c *Client) Offset() *ClockOffset { return c.off }

// Tenant is the tenant name the client reports in errors.
func (c *Client) Tenant() string { return c.cfg.Tenant }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// request is one logical request, retried as a unit.
type request struct {
	path  string // escaped path below the base URL, e.g. /users
	query url.Values
	page  int
	// parse reads a 2xx body; an error marks the body malformed (retried).
	parse func(body []byte) error
}

// response is what a successful request leaves besides what parse kept.
type response struct {
	apiTime time.Time // Date header, or local time + offset when absent
}

// get runs a GET with retries. Errors are *Error (or the context's error,
// wrapped with the request's path).
func (c *Client) get(ctx context.Context, rq request) (response, error) {
	u := *c.base
	ePath, err := url.PathUnescape(rq.path)
	if err != nil {
		ePath = rq.path
	}
	u.Path = c.base.Path + ePath
	u.RawPath = c.base.EscapedPath() + rq.path
	u.RawQuery = rq.query.Encode()
	target := u.String()
	mk := func(kind error) *Error {
		return &Error{Method: http.MethodGet, Tenant: c.cfg.Tenant, Path: ePath, Page: rq.page, Kind: kind}
	}
	wrapCtx := func(err error) error {
		return fmt.Errorf("GET %s %s%s: %w", c.cfg.Tenant, ePath, pageSuffix(rq.page), err)
	}

	var last *Error
	backoff := c.cfg.Retry.Backoff
	for attempt := 1; ; attempt++ {
		// Never ask again before a Retry-After has passed.
		c.mu.Lock()
		until := c.blockedUntil
		c.mu.Unlock()
		if wait := until.Sub(c.clk.Now()); wait > 0 {
			if wait > c.cfg.MaxRetryAfter {
				e := mk(ErrRateLimited)
				e.Status, e.Until, e.Attempts = http.StatusTooManyRequests, until, attempt-1
				if last != nil {
					e.RetryAfter, e.Message = last.RetryAfter, last.Message
				}
				return response{}, e
			}
			if err := c.cfg.Sleep(ctx, wait); err != nil {
				return response{}, wrapCtx(err)
			}
		}
		if err := c.lim.Wait(ctx); err != nil {
			return response{}, wrapCtx(err)
		}
		token, err := c.cfg.Token(ctx)
		if err != nil {
			return response{}, wrapCtx(fmt.Errorf("token: %w", err))
		}
		if token == "" {
			e := mk(ErrUnauthorized)
			e.Message = "no token for this tenant"
			return response{}, e
		}

		e, resp := c.attempt(ctx, target, token, rq, attempt, mk)
		if e == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return response{}, wrapCtx(ctx.Err())
		}
		e.Attempts = attempt
		last = e
		if !retryable(e.Kind) || attempt >= c.cfg.Retry.Attempts {
			return response{}, e
		}
		var wait time.Duration
		if e.Kind == ErrRateLimited {
			if e.RetryAfter > c.cfg.MaxRetryAfter {
				return response{}, e
			}
			wait = e.Until.Sub(c.clk.Now()) + c.cfg.Jitter(min(time.Second, e.RetryAfter/10))
		} else {
			wait = c.cfg.Jitter(backoff)
			backoff = min(2*backoff, c.cfg.Retry.MaxBackoff)
			if e.RetryAfter > 0 && wait < e.RetryAfter {
				wait = e.RetryAfter // a 503 may say when to come back
			}
		}
		c.log.Debug("vomo: retrying", "tenant", c.cfg.Tenant, "path", ePath, "page", rq.page,
			"attempt", attempt, "status", e.Status, "wait", wait, "error", e.Error())
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return response{}, wrapCtx(err)
		}
	}
}

func pageSuffix(page int) string {
	if page > 0 {
		return " page " + strconv.Itoa(page)
	}
	return ""
}

// attempt makes one HTTP request. It returns nil and the response on
// success, else the classified error.
func (c *Client) attempt(ctx context.Context, target, token string, rq request, attempt int, mk func(error) *Error) (*Error, response) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, target, nil)
	if err != nil {
		e := mk(ErrStatus)
		e.Err = err
		return e, response{}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	info := RequestInfo{Tenant: c.cfg.Tenant, Method: http.MethodGet, Path: mk(nil).Path, Page: rq.page, Attempt: attempt, RateLimit: -1, RateRemaining: -1}
	start := c.clk.Now()
	res, err := c.hc.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(res.Body, c.cfg.MaxBody+1))
		res.Body.Close()
	}
	now := c.clk.Now()
	info.Duration = now.Sub(start)
	report := func(e *Error) (*Error, response) {
		if e != nil {
			info.Err = e
			if (e.Kind == ErrTransient || e.Kind == ErrMalformed) && c.cfg.Hooks.OnFailure != nil {
				c.cfg.Hooks.OnFailure(e)
			}
		}
		if c.cfg.Hooks.OnRequest != nil {
			c.cfg.Hooks.OnRequest(info)
		}
		if e != nil {
			return e, response{}
		}
		if c.cfg.Hooks.OnSuccess != nil {
			c.cfg.Hooks.OnSuccess()
		}
		api, ok := dateOf(res.Header)
		if !ok {
			api = c.off.APITime(now)
		}
		return nil, response{apiTime: api}
	}
	if err != nil {
		e := mk(ErrTransient)
		if ctx.Err() == nil && actx.Err() != nil {
			e.Message = "timed out after " + c.cfg.Timeout.String()
		} else {
			e.Err = scrubErr(err, token)
		}
		return report(e)
	}
	info.Status = res.StatusCode
	info.RateLimit = headerInt(res.Header, "X-RateLimit-Limit")
	info.RateRemaining = headerInt(res.Header, "X-RateLimit-Remaining")
	c.off.observeDate(res.Header, now)

	if int64(len(body)) > c.cfg.MaxBody {
		e := mk(ErrMalformed)
		e.Status = res.StatusCode
		e.Message = fmt.Sprintf("body larger than %d bytes", c.cfg.MaxBody)
		return report(e)
	}
	code := res.StatusCode
	if code >= 200 && code < 300 {
		if err := rq.parse(body); err != nil {
			e := mk(ErrMalformed)
			e.Status = code
			e.Err = err
			return report(e)
		}
		return report(nil)
	}
	e := mk(nil)
	e.Status = code
	e.Fields = map[string][]string{}
	msg, fields := errorBody(body)
	e.Message = shorten(msg, token)
	switch {
	case code == http.StatusUnauthorized:
		e.Kind = ErrUnauthorized
	case code == http.StatusForbidden:
		e.Kind = ErrForbidden
	case code == http.StatusNotFound || code == http.StatusGone:
		e.Kind = ErrNotFound
	case code == http.StatusUnprocessableEntity:
		e.Kind = ErrValidation
		for f, msgs := range fields {
			for i := range msgs {
				msgs[i] = shorten(msgs[i], token)
			}
			e.Fields[shorten(f, token)] = msgs
		}
	case code == http.StatusTooManyRequests:
		e.Kind = ErrRateLimited
		ra, ok := retryAfter(res.Header, now)
		if !ok {
			ra = c.cfg.Retry.Backoff
		}
		e.RetryAfter, e.Until = ra, now.Add(ra)
		c.mu.Lock()
		if e.Until.After(c.blockedUntil) {
			c.blockedUntil = e.Until
		}
		c.mu.Unlock()
		if c.cfg.Hooks.OnRateLimited != nil {
			c.cfg.Hooks.OnRateLimited(ra)
		}
	case code == http.StatusRequestTimeout || code == http.StatusTooEarly || code >= 500:
		e.Kind = ErrTransient
		if ra, ok := retryAfter(res.Header, now); ok {
			e.RetryAfter = min(ra, c.cfg.MaxRetryAfter)
		}
		if looksHTML(res.Header, body) {
			e.Message = "HTML body"
		}
	default:
		e.Kind = ErrStatus
	}
	return report(e)
}

// errorBody reads Laravel's {"message": …, "errors": {field: [..]}}.
func errorBody(body []byte) (string, map[string][]string) {
	var b struct {
		Message string              `json:"message"`
		Errors  map[string][]string `json:"errors"`
	}
	if json.Unmarshal(body, &b) != nil {
		return "", nil
	}
	if len(b.Errors) > 0 {
		return b.Message, b.Errors
	}
	return b.Message, nil
}

func looksHTML(h http.Header, body []byte) bool {
	if strings.Contains(h.Get("Content-Type"), "html") {
		return true
	}
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '<'
}

func headerInt(h http.Header, name string) int {
	v := h.Get(name)
	if v == "" {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return -1
	}
	return n
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 && n < 1e7 {
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

func dateOf(h http.Header) (time.Time, bool) {
	v := h.Get("Date")
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	return t.UTC(), err == nil
}

// scrubErr keeps a network error's cause but drops the token if it ever
// appeared in its text (it cannot today: the token travels only in a
// header, and net/http does not print headers).
func scrubErr(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "[redacted]"))
}

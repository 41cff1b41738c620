package vomosim

import (
	"net/http"
	"strconv"
	"time"
)

// proxyFault decides whether the request fails before it reaches VOMO's
// application: an outage window, a hang, added latency or a random 5xx.
// Latency and hangs are real time, since they exist to exercise the
// client's own timeouts.
func (s *Server) proxyFault(r *http.Request, cfg *Scenario) (reply, bool) {
	now := micros(s.apiNow())
	f := &cfg.Faults
	if now < s.outageUntil.Load() || f.Enabled && s.inOutage(now, cfg) {
		return htmlError(http.StatusServiceUnavailable), true
	}
	if !f.Enabled {
		return reply{}, false
	}
	if d := f.Latency.D() + time.Duration(s.randN(int64(f.LatencyJitter))); d > 0 {
		if !sleep(r, d) {
			return htmlError(http.StatusGatewayTimeout), true
		}
	}
	if s.chance(f.TimeoutRate) {
		sleep(r, f.Timeout.D())
		return htmlError(http.StatusGatewayTimeout), true
	}
	if s.chance(f.ErrorRate) {
		switch s.randN(4) {
		case 0:
			return message(http.StatusInternalServerError, "Server Error"), true
		case 1:
			return htmlError(http.StatusBadGateway), true
		case 2:
			return htmlError(http.StatusServiceUnavailable), true
		default:
			return htmlError(http.StatusGatewayTimeout), true
		}
	}
	return reply{}, false
}

// sleep waits d or until the client gives up; it reports whether d passed.
func sleep(r *http.Request, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// inOutage reports whether API time now (µs) falls in a scheduled outage.
func (s *Server) inOutage(now int64, cfg *Scenario) bool {
	since := now - s.start
	for _, o := range cfg.Faults.Outages {
		start, dur, every := int64(o.Start.D()/1000), int64(o.Duration.D()/1000), int64(o.Every.D()/1000)
		if since < start {
			continue
		}
		off := since - start
		if every > 0 {
			off %= every
		}
		if off < dur {
			return true
		}
	}
	return false
}

// rateWindow is Laravel's fixed-window throttle for one token: the window
// opens at the first request and lasts rate_window; a refused request does
// not count.
type rateWindow struct {
	start time.Time
	hits  int
}

// throttle counts a request against the tenant's window. It returns the
// X-RateLimit headers for a request let through, or the 429 to send.
func (t *tenant) throttle(now time.Time, cfg *Scenario) (http.Header, *reply) {
	f := &cfg.Faults
	if !f.Enabled || f.RateLimit <= 0 {
		return nil, nil
	}
	t.cmu.Lock()
	defer t.cmu.Unlock()
	w := &t.limit
	if w.start.IsZero() || !now.Before(w.start.Add(f.RateWindow.D())) {
		w.start, w.hits = now, 0
	}
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(f.RateLimit))
	if w.hits >= f.RateLimit {
		reset := w.start.Add(f.RateWindow.D())
		retry := int((reset.Sub(now) + time.Second - 1) / time.Second)
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Retry-After", strconv.Itoa(max(retry, 1)))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Add(time.Second-1).Unix(), 10))
		rep := message(http.StatusTooManyRequests, "Too Many Attempts.")
		rep.header = h
		return nil, &rep
	}
	w.hits++
	h.Set("X-RateLimit-Remaining", strconv.Itoa(f.RateLimit-w.hits))
	return h, nil
}

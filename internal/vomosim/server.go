// Package vomosim simulates the VOMO API (see VOMO-API.md) for Siphon's
// tests, demos and benchmarks: many tenants with generated data, the
// Laravel paginator over live data, clock-driven churn, switches for every
// behaviour the real API only lets us assume, faults on purpose, and a
// control surface with the ground truth so a test can compare a
// destination with the source exactly.
//
// The server runs on an injected clock.Clock, shared with the runtime in
// tests; nothing in it sleeps on that clock, so a Manual clock makes every
// change happen exactly when the test moves time.
package vomosim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
)

// Options configure a Server.
type Options struct {
	// Clock is the shared time source; the API's own clock is this plus
	// the scenario's clock_skew. Defaults to the wall clock.
	Clock clock.Clock
	// Scenario to serve; the zero value means DefaultScenario().
	Scenario Scenario
}

// Server is a simulated VOMO API. It is an http.Handler: /v1/... is the
// API, /_sim/... the control surface. All methods are safe for concurrent
// use.
type Server struct {
	clk    clock.Clock
	seed   uint64
	start  int64 // API time at creation (µs); outage windows count from it
	anchor int64 // generated data ends here (µs)
	cfg    atomic.Pointer[Scenario]
	mux    *http.ServeMux

	addMu   sync.Mutex // serialises AddTenant, so numbers stay unique
	mu      sync.RWMutex
	tenants []*tenant
	byToken map[string]*tenant
	byID    map[string]*tenant

	rmu sync.Mutex
	rng *rand.Rand // faults and per-page flips

	outageUntil atomic.Int64 // API µs; a manual outage from the control surface
}

// New builds a server and generates its tenants' data. Generation is
// deterministic from the scenario's seed and the clock's day: data spans
// three years before midnight (UTC, API time) of the clock's current day.
func New(opts Options) (*Server, error) {
	sc := opts.Scenario
	if sc.Name == "" && sc.PerPage == 0 {
		sc = DefaultScenario()
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	s := &Server{
		clk:     clk,
		seed:    sc.Seed,
		byToken: map[string]*tenant{},
		byID:    map[string]*tenant{},
		rng:     rand.New(rand.NewPCG(sc.Seed, 99)),
	}
	s.cfg.Store(&sc)
	now := s.apiNow()
	s.start = micros(now)
	s.anchor = micros(now.UTC().Truncate(24 * time.Hour))
	s.generate(sc.Tenants, sc.Users)
	s.routes()
	return s, nil
}

// generate creates the scenario's tenants, several at a time: a million
// users take seconds to generate on one core.
func (s *Server) generate(n, users int) {
	ts := make([]*tenant, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				ts[i] = newTenant(s, i+1, users, s.anchor)
			}
		}()
	}
	for i := range ts {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, t := range ts {
		s.register(t)
	}
}

// register makes a tenant reachable and starts its churn clock.
func (s *Server) register(t *tenant) {
	s.mu.Lock()
	s.tenants = append(s.tenants, t)
	s.byToken[t.token] = t
	s.byID[t.id] = t
	s.mu.Unlock()
	t.mu.Lock()
	t.advance(micros(s.apiNow()))
	t.mu.Unlock()
}

// config is the current scenario; it is replaced, never changed in place.
func (s *Server) config() *Scenario { return s.cfg.Load() }

// update changes the scenario under a copy-on-write.
func (s *Server) update(fn func(sc *Scenario) error) error {
	for {
		old := s.cfg.Load()
		sc := *old
		sc.Faults.Outages = append([]Outage(nil), old.Faults.Outages...)
		if err := fn(&sc); err != nil {
			return err
		}
		if err := sc.Validate(); err != nil {
			return err
		}
		if s.cfg.CompareAndSwap(old, &sc) {
			return nil
		}
	}
}

// apiNow is the API's clock: the shared clock plus the skew.
func (s *Server) apiNow() time.Time {
	return s.clk.Now().Add(s.config().Switches.ClockSkew.D())
}

// chance returns true with probability p.
func (s *Server) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.rng.Float64() < p
}

func (s *Server) randN(n int64) int64 {
	if n <= 0 {
		return 0
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.rng.Int64N(n)
}

// addTenant creates the next tenant. Its number is taken under the lock so
// concurrent additions get distinct ids.
func (s *Server) addTenant(users int) *tenant {
	s.addMu.Lock()
	defer s.addMu.Unlock()
	s.mu.RLock()
	n := len(s.tenants) + 1
	s.mu.RUnlock()
	t := newTenant(s, n, users, s.anchor)
	s.register(t)
	return t
}

func (s *Server) tenant(id string) (*tenant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("vomosim: no tenant %q", id)
	}
	return t, nil
}

// ServeHTTP sets the Date header from the API's clock on every response and
// routes the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", s.apiNow().UTC().Format(http.TimeFormat))
	s.mux.ServeHTTP(w, r)
}

// handler is an API endpoint; it runs with the tenant's lock held.
type handler func(t *tenant, r *http.Request) reply

// route registers an API endpoint. resource names it for 403 switches.
func (s *Server) route(pattern, resource string, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, pattern, resource, h)
	})
}

// serveAPI runs the middleware in the order a Laravel app behind a proxy
// would: the proxy's faults, authentication, the per-token throttle, the
// scope check, then the endpoint.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, pattern, resource string, h handler) {
	cfg := s.config()
	t := s.byBearer(r)
	if t != nil {
		t.count(pattern)
	}
	if rep, ok := s.proxyFault(r, cfg); ok {
		write(w, rep)
		return
	}
	if resource == "" { // no such route: Laravel answers 404 before any middleware
		write(w, h(nil, r))
		return
	}
	if t == nil || t.revoked.Load() {
		write(w, unauthenticated())
		return
	}
	limitHeaders, limited := t.throttle(s.clk.Now(), cfg)
	if limited != nil {
		write(w, *limited)
		return
	}
	for k, v := range limitHeaders {
		w.Header()[k] = v
	}
	t.mu.Lock()
	var rep reply
	if t.forbidden[resource] {
		rep = forbidden()
	} else {
		rep = h(t, r)
	}
	t.mu.Unlock()
	if rep.status == http.StatusOK && cfg.Faults.Enabled && s.chance(cfg.Faults.TruncateRate) && len(rep.body) > 1 {
		rep.body = rep.body[:1+s.randN(int64(len(rep.body)-1))]
	}
	write(w, rep)
	if rep.pooled {
		putBuf(rep.body[:0])
	}
}

// byBearer finds the tenant of the request's bearer token, or nil.
func (s *Server) byBearer(r *http.Request) *tenant {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byToken[strings.TrimSpace(h[7:])]
}

func write(w http.ResponseWriter, rep reply) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	if rep.html {
		h.Set("Content-Type", "text/html")
	} else {
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-cache, private")
	}
	w.WriteHeader(rep.status)
	if len(rep.body) > 0 {
		_, _ = w.Write(rep.body) // the client went away; nothing to do
	}
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.route("GET /v1/users", "users", s.listUsers)
	s.route("POST /v1/users", "users", s.upsertUser)
	s.route("GET /v1/users/{id}", "users", s.showUser)
	s.route("GET /v1/projects", "projects", s.listProjects)
	s.route("POST /v1/projects", "projects", s.createProject)
	s.route("GET /v1/projects/today", "projects", s.projectsToday)
	s.route("GET /v1/projects/date/{id}", "projects", s.showProjectDate)
	s.route("GET /v1/projects/{id}", "projects", s.showProject)
	s.route("PUT /v1/projects/{id}", "projects", s.updateProject)
	s.route("GET /v1/groups", "groups", s.listGroups)
	s.route("GET /v1/groups/{id}", "groups", s.showGroup)
	s.route("DELETE /v1/groups/{id}", "groups", s.deleteGroup)
	s.route("GET /v1/groups/{id}/members", "groups", s.listMembers)
	s.route("PUT /v1/groups/{id}/members", "groups", s.putMembers)
	s.route("GET /v1/campaigns", "campaigns", s.listCampaigns)
	s.route("GET /v1/organizations", "organizations", s.listOrganizations)
	s.route("GET /v1/forms", "forms", s.listForms)
	s.route("GET /v1/forms/{id}/completions", "forms", s.listCompletions)
	s.route("GET /v1/forms/{id}/completions/{completion}", "forms", s.showCompletion)
	s.route("GET /v1/certificates", "certificates", s.listCertificates)
	s.route("/v1/", "", func(_ *tenant, r *http.Request) reply {
		return message(http.StatusNotFound, "The route "+strings.TrimPrefix(r.URL.Path, "/")+" could not be found.")
	})
	s.controlRoutes()
}

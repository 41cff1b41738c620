package vomosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// TenantInfo describes a tenant for tests and the start-up listing. Token
// is a secret: print it only where the user asked for it.
type TenantInfo struct {
	ID             string `json:"id"`
	Token          string `json:"token"`
	OrganizationID int64  `json:"organization_id"`
	Users          int    `json:"users"`
	Revoked        bool   `json:"revoked"`
}

func (t *tenant) info() TenantInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TenantInfo{ID: t.id, Token: t.token, OrganizationID: t.org.id, Users: t.users.nLive, Revoked: t.revoked.Load()}
}

// Tenants lists the tenants in creation order.
func (s *Server) Tenants() []TenantInfo {
	s.mu.RLock()
	ts := append([]*tenant(nil), s.tenants...)
	s.mu.RUnlock()
	out := make([]TenantInfo, len(ts))
	for i, t := range ts {
		out[i] = t.info()
	}
	return out
}

// AddTenant creates a tenant with users volunteers and its own token.
func (s *Server) AddTenant(users int) (TenantInfo, error) {
	if users < 0 || users > 1000000 {
		return TenantInfo{}, fmt.Errorf("vomosim: add tenant: users must be 0..1000000, got %d", users)
	}
	return s.addTenant(users).info(), nil
}

// Revoke makes a tenant's token answer 401 until Restore.
func (s *Server) Revoke(id string) error { return s.setRevoked(id, true) }

// Restore undoes Revoke.
func (s *Server) Restore(id string) error { return s.setRevoked(id, false) }

func (s *Server) setRevoked(id string, v bool) error {
	t, err := s.tenant(id)
	if err != nil {
		return err
	}
	t.revoked.Store(v)
	return nil
}

// Forbid makes a resource (users, projects, groups, campaigns,
// organizations, forms, certificates) answer 403 for one tenant, as a token
// lacking that scope would.
func (s *Server) Forbid(id, resource string, on bool) error {
	t, err := s.tenant(id)
	if err != nil {
		return err
	}
	if !isResource(resource) {
		return fmt.Errorf("vomosim: forbid: unknown resource %q", resource)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forbidden[resource] = on
	return nil
}

func isResource(r string) bool {
	switch r {
	case "users", "projects", "groups", "campaigns", "organizations", "forms", "certificates":
		return true
	}
	return false
}

// Scenario returns the scenario as it stands, switches and faults included.
func (s *Server) Scenario() Scenario {
	sc := *s.config()
	sc.Faults.Outages = append([]Outage(nil), sc.Faults.Outages...)
	return sc
}

// SetChurn replaces the churn settings; turning churn off lets writes in
// flight (late-visible ones) still commit.
func (s *Server) SetChurn(c Churn) error {
	return s.update(func(sc *Scenario) error { sc.Churn = c; return nil })
}

// SetSwitches replaces the behaviour switches.
func (s *Server) SetSwitches(sw Switches) error {
	return s.update(func(sc *Scenario) error { sc.Switches = sw; return nil })
}

// SetFaults replaces the fault settings.
func (s *Server) SetFaults(f Faults) error {
	return s.update(func(sc *Scenario) error { sc.Faults = f; return nil })
}

// Outage makes every /v1 request answer 503 for d of API time from now.
func (s *Server) Outage(d time.Duration) {
	s.outageUntil.Store(micros(s.apiNow().Add(d)))
}

// APINow is the API's present (the shared clock plus the skew).
func (s *Server) APINow() time.Time { return s.apiNow() }

// Pending is the number of a tenant's writes not yet visible; after churn
// stops, they commit within the scenario's late_max.
func (s *Server) Pending(id string) (int, error) {
	t, err := s.tenant(id)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance(micros(s.apiNow()))
	return t.pendingCount(), nil
}

// Counters returns requests per tenant and endpoint ("GET /v1/users"),
// including those refused with 401, 429 or a fault.
func (s *Server) Counters() map[string]map[string]int64 {
	s.mu.RLock()
	ts := append([]*tenant(nil), s.tenants...)
	s.mu.RUnlock()
	out := map[string]map[string]int64{}
	for _, t := range ts {
		t.cmu.Lock()
		m := make(map[string]int64, len(t.counters))
		for k, v := range t.counters {
			m[k] = v
		}
		t.cmu.Unlock()
		out[t.id] = m
	}
	return out
}

// ResetCounters sets every request counter to zero.
func (s *Server) ResetCounters() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, t := range s.tenants {
		t.cmu.Lock()
		t.counters = map[string]int64{}
		t.cmu.Unlock()
	}
}

// controlRoutes serves the control surface under /_sim/. It has no
// authentication: it is a development and test tool, bound to loopback by
// the binaries unless told otherwise.
func (s *Server) controlRoutes() {
	m := s.mux
	m.HandleFunc("GET /_sim/{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"tenants":   "GET, POST {\"users\":N} /_sim/tenants",
			"revoke":    "POST /_sim/tenants/{id}/revoke, /restore",
			"forbid":    "POST /_sim/tenants/{id}/forbid {\"resource\":\"users\",\"forbidden\":true}",
			"vanish":    "POST /_sim/tenants/{id}/vanish {\"resource\":\"users\",\"share\":0.3}",
			"settings":  "GET, PATCH /_sim/churn, /_sim/switches, /_sim/faults (PATCH merges the JSON given)",
			"outage":    "POST /_sim/outage {\"duration\":\"30s\"}",
			"truth":     "GET /_sim/truth/{tenant}/{resource}",
			"resources": TruthResources,
			"counters":  "GET, DELETE /_sim/counters",
			"scenario":  "GET /_sim/scenario",
		})
	})
	m.HandleFunc("GET /_sim/tenants", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Tenants())
	})
	m.HandleFunc("POST /_sim/tenants", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Users int `json:"users"`
		}
		if err := decodeControl(r, &req); err != nil {
			controlError(w, err)
			return
		}
		ti, err := s.AddTenant(req.Users)
		if err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, ti)
	})
	m.HandleFunc("POST /_sim/tenants/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		var err error
		switch r.PathValue("action") {
		case "revoke":
			err = s.Revoke(id)
		case "restore":
			err = s.Restore(id)
		case "vanish":
			var req struct {
				Resource string  `json:"resource"`
				Share    float64 `json:"share"`
			}
			if err = decodeControl(r, &req); err == nil {
				_, err = s.Vanish(id, req.Resource, req.Share)
			}
		case "forbid":
			var req struct {
				Resource  string `json:"resource"`
				Forbidden bool   `json:"forbidden"`
			}
			if err = decodeControl(r, &req); err == nil {
				err = s.Forbid(id, req.Resource, req.Forbidden)
			}
		default:
			err = errors.New("unknown action " + r.PathValue("action"))
		}
		if err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"tenant": id, "done": r.PathValue("action")})
	})
	settings := map[string]func(sc *Scenario) any{
		"churn":    func(sc *Scenario) any { return &sc.Churn },
		"switches": func(sc *Scenario) any { return &sc.Switches },
		"faults":   func(sc *Scenario) any { return &sc.Faults },
	}
	for name, part := range settings {
		m.HandleFunc("GET /_sim/"+name, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, part(s.config()))
		})
		m.HandleFunc("PATCH /_sim/"+name, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
			if err == nil {
				err = s.update(func(sc *Scenario) error {
					if e := json.Unmarshal(body, part(sc)); e != nil {
						return fmt.Errorf("%s: %w", name, e)
					}
					return nil
				})
			}
			if err != nil {
				controlError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, part(s.config()))
		})
	}
	m.HandleFunc("POST /_sim/outage", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Duration Duration `json:"duration"`
		}
		if err := decodeControl(r, &req); err != nil {
			controlError(w, err)
			return
		}
		s.Outage(req.Duration.D())
		writeJSON(w, http.StatusOK, map[string]string{"outage_until": s.apiNow().Add(req.Duration.D()).UTC().Format(stampLayout)})
	})
	m.HandleFunc("GET /_sim/truth/{tenant}/{resource}", func(w http.ResponseWriter, r *http.Request) {
		tr, err := s.Truth(r.PathValue("tenant"), r.PathValue("resource"))
		if err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, tr)
	})
	m.HandleFunc("GET /_sim/counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Counters())
	})
	m.HandleFunc("DELETE /_sim/counters", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCounters()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_sim/scenario", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Scenario())
	})
}

func decodeControl(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

func controlError(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

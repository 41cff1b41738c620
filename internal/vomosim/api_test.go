package vomosim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestErrorShapes checks status, body and headers of every refusal.
func TestErrorShapes(t *testing.T) {
	srv, hs, clk := start(t, quiet(30))
	tok := token(t, srv, "t001")
	u := hs.URL + "/v1/users"

	t.Run("401 missing, malformed, unknown and revoked tokens", func(t *testing.T) {
		for _, auth := range []string{"", "Basic abc", "Bearer nope"} {
			req, _ := http.NewRequest("GET", u, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("%q: status %d", auth, resp.StatusCode)
			}
		}
		if status, _, _ := call(t, "GET", hs.URL+"/v1/volunteers", "", ""); status != 404 {
			t.Errorf("an unknown route without a token: %d, want 404", status)
		}
		if err := srv.Revoke("t001"); err != nil {
			t.Fatal(err)
		}
		status, _, body := call(t, "GET", u, tok, "")
		if status != 401 || string(body) != `{"message":"Unauthenticated."}` {
			t.Errorf("revoked: %d %s", status, body)
		}
		if err := srv.Restore("t001"); err != nil {
			t.Fatal(err)
		}
		if status, _, _ := call(t, "GET", u, tok, ""); status != 200 {
			t.Errorf("restored: %d", status)
		}
	})

	t.Run("403 for a forbidden resource only", func(t *testing.T) {
		if err := srv.Forbid("t001", "groups", true); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = srv.Forbid("t001", "groups", false) }()
		status, _, body := call(t, "GET", hs.URL+"/v1/groups", tok, "")
		if status != 403 || !strings.HasPrefix(string(body), `{"message":`) {
			t.Errorf("groups: %d %s", status, body)
		}
		if status, _, _ := call(t, "GET", u, tok, ""); status != 200 {
			t.Errorf("users: %d", status)
		}
	})

	t.Run("404 shapes", func(t *testing.T) {
		for _, p := range []string{"/v1/users/999999", "/v1/users/abc", "/v1/projects/date/999001", "/v1/forms/9999/completions", "/v1/forms/1/completions/7", "/v1/nothing"} {
			status, _, body := call(t, "GET", hs.URL+p, tok, "")
			var m map[string]any
			if status != 404 || json.Unmarshal(body, &m) != nil || m["message"] == "" || len(m) != 1 {
				t.Errorf("%s: %d %s", p, status, body)
			}
		}
	})

	t.Run("429 with Retry-After and X-RateLimit headers, fixed window", func(t *testing.T) {
		f := srv.Scenario().Faults
		f.Enabled, f.RateLimit, f.RateWindow = true, 3, Duration(time.Minute)
		if err := srv.SetFaults(f); err != nil {
			t.Fatal(err)
		}
		defer func() { f.Enabled = false; _ = srv.SetFaults(f) }()
		for i, want := range []string{"2", "1", "0"} {
			status, h, _ := call(t, "GET", u, tok, "")
			if status != 200 || h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Remaining") != want {
				t.Errorf("request %d: %d limit %q remaining %q", i, status, h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"))
			}
		}
		clk.Advance(20 * time.Second)
		status, h, body := call(t, "GET", u, tok, "")
		if status != 429 || string(body) != `{"message":"Too Many Attempts."}` || h.Get("Retry-After") != "40" || h.Get("X-RateLimit-Remaining") != "0" {
			t.Errorf("over the limit: %d %s Retry-After %q", status, body, h.Get("Retry-After"))
		}
		clk.Advance(40 * time.Second)
		if status, h, _ := call(t, "GET", u, tok, ""); status != 200 || h.Get("X-RateLimit-Remaining") != "2" {
			t.Errorf("new window: %d remaining %q", status, h.Get("X-RateLimit-Remaining"))
		}
	})

	t.Run("Date header follows the skewed API clock", func(t *testing.T) {
		sw := srv.Scenario().Switches
		sw.ClockSkew = Duration(-90 * time.Second)
		if err := srv.SetSwitches(sw); err != nil {
			t.Fatal(err)
		}
		defer func() { sw.ClockSkew = 0; _ = srv.SetSwitches(sw) }()
		for _, p := range []string{"/v1/users", "/v1/nothing", "/_sim/scenario"} {
			_, h, _ := call(t, "GET", hs.URL+p, tok, "")
			d, err := http.ParseTime(h.Get("Date"))
			if err != nil || !d.Equal(clk.Now().Add(-90*time.Second).Truncate(time.Second)) {
				t.Errorf("%s: Date %q, clock %s", p, h.Get("Date"), clk.Now())
			}
		}
	})
}

// TestFaults checks each injected failure.
func TestFaults(t *testing.T) {
	srv, hs, clk := start(t, quiet(30))
	tok := token(t, srv, "t001")
	u := hs.URL + "/v1/users"
	set := func(f Faults) {
		t.Helper()
		f.RateWindow, f.Timeout = Duration(time.Minute), Duration(time.Millisecond)
		if err := srv.SetFaults(f); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("truncated bodies are 200 and not JSON", func(t *testing.T) {
		set(Faults{Enabled: true, TruncateRate: 1})
		for i := 0; i < 20; i++ {
			status, _, body := call(t, "GET", u, tok, "")
			if status != 200 || json.Valid(body) {
				t.Fatalf("status %d, valid JSON %v", status, json.Valid(body))
			}
		}
	})
	t.Run("random 5xx, HTML from the proxy", func(t *testing.T) {
		set(Faults{Enabled: true, ErrorRate: 1})
		seen := map[int]bool{}
		for i := 0; i < 60; i++ {
			status, h, body := call(t, "GET", u, tok, "")
			seen[status] = true
			if status < 500 || status > 504 {
				t.Fatalf("status %d", status)
			}
			if status != 500 && (!strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html>")) {
				t.Errorf("%d is not an HTML page: %s", status, body)
			}
		}
		if len(seen) < 3 {
			t.Errorf("only statuses %v", seen)
		}
	})
	t.Run("timeouts answer 504 after hanging", func(t *testing.T) {
		set(Faults{Enabled: true, TimeoutRate: 1})
		if status, _, _ := call(t, "GET", u, tok, ""); status != 504 {
			t.Errorf("status %d", status)
		}
	})
	t.Run("scheduled outage window", func(t *testing.T) {
		set(Faults{Enabled: true, Outages: []Outage{{Start: Duration(time.Minute), Duration: Duration(time.Minute)}}})
		for _, c := range []struct {
			after time.Duration
			want  int
		}{{30 * time.Second, 200}, {60 * time.Second, 503}, {60 * time.Second, 200}} {
			clk.Advance(c.after)
			if status, _, _ := call(t, "GET", u, tok, ""); status != c.want {
				t.Errorf("at +%s: %d, want %d", c.after, status, c.want)
			}
		}
	})
	t.Run("manual outage", func(t *testing.T) {
		set(Faults{})
		srv.Outage(time.Minute)
		if status, _, _ := call(t, "GET", u, tok, ""); status != 503 {
			t.Errorf("during: %d", status)
		}
		clk.Advance(time.Minute)
		if status, _, _ := call(t, "GET", u, tok, ""); status != 200 {
			t.Errorf("after: %d", status)
		}
	})
}

// TestWrites covers the write endpoints: upsert by email, PUT, members.
func TestWrites(t *testing.T) {
	srv, hs, clk := start(t, quiet(30))
	tok := token(t, srv, "t001")
	post := func(body string) (int, map[string]any) {
		t.Helper()
		status, _, b := call(t, "POST", hs.URL+"/v1/users", tok, body)
		var m struct {
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(b, &m)
		return status, m.Data
	}
	status, created := post(`{"email":"New.Person@Example.com","first_name":"New","last_name":"Person","gender":"F","birthday":"1990-02-03","address":{"city":"Boise"}}`)
	if status != 201 || created["full_name"] != "New Person" {
		t.Fatalf("create: %d %v", status, created)
	}
	clk.Advance(time.Second)
	status, same := post(`{"email":"New.Person@Example.com","first_name":"New","last_name":"Person","gender":"F","birthday":"1990-02-03","address":{"city":"Boise"}}`)
	if status != 200 || same["id"] != created["id"] || same["address"].(map[string]any)["street"] != "" {
		t.Fatalf("upsert by email: %d %v", status, same)
	}
	if same["updated_at"] != created["updated_at"] {
		t.Errorf("a write that changes nothing moved updated_at")
	}
	clk.Advance(time.Second)
	_, changed := post(`{"email":"new.person@EXAMPLE.com","phone":"+1-208-555-0100"}`)
	if changed["id"] != created["id"] || changed["phone"] != "+1-208-555-0100" || changed["updated_at"] == created["updated_at"] {
		t.Errorf("update by email, ignoring case: %v", changed)
	}
	for _, bad := range []string{`{}`, `not json`, `{"email":"x@y.z","first_name":5}`, `{"email":"a@b.c","first_name":"A","last_name":"B","birthday":"2999-01-01"}`} {
		status, _, b := call(t, "POST", hs.URL+"/v1/users", tok, bad)
		var m struct {
			Message string              `json:"message"`
			Errors  map[string][]string `json:"errors"`
		}
		if status != 422 || json.Unmarshal(b, &m) != nil || m.Message == "" || len(m.Errors) == 0 {
			t.Errorf("%s: %d %s", bad, status, b)
		}
	}

	status, _, b := call(t, "PUT", hs.URL+"/v1/projects/1", tok, `{"status":"ARCHIVED","capacity":12}`)
	if status != 200 || !strings.Contains(string(b), `"status":"ARCHIVED"`) {
		t.Errorf("PUT project: %d %s", status, b)
	}
	if status, _, _ := call(t, "PUT", hs.URL+"/v1/projects/1", tok, `{"capacity":"many"}`); status != 422 {
		t.Errorf("PUT project invalid: %d", status)
	}
	if status, _, _ := call(t, "PUT", hs.URL+"/v1/projects/99999", tok, `{}`); status != 404 {
		t.Errorf("PUT missing project: %d", status)
	}

	status, _, b = call(t, "PUT", hs.URL+"/v1/groups/1/members", tok, `{"user_ids":[3,1,2]}`)
	if status != 200 || !strings.Contains(string(b), `"member_count":3`) {
		t.Errorf("PUT members: %d %s", status, b)
	}
	if ids := walkIDsField(t, hs.URL+"/v1/groups/1/members", tok, "user_id"); len(ids) != 3 || ids[0] != 1 {
		t.Errorf("members: %v", ids)
	}
	if status, _, _ := call(t, "PUT", hs.URL+"/v1/groups/1/members", tok, `{"user_ids":[1,99999]}`); status != 422 {
		t.Errorf("PUT unknown member: %d", status)
	}
	if status, _, _ := call(t, "DELETE", hs.URL+"/v1/groups/1", tok, ""); status != 204 {
		t.Errorf("DELETE group: %d", status)
	}
	if status, _, _ := call(t, "GET", hs.URL+"/v1/groups/1/members", tok, ""); status != 404 {
		t.Errorf("members of a deleted group: %d", status)
	}
}

func walkIDsField(t *testing.T, u, tok, field string) []int64 {
	t.Helper()
	p := getPage(t, u, tok)
	var out []int64
	for _, rec := range p.Data {
		out = append(out, int64(rec[field].(float64)))
	}
	return out
}

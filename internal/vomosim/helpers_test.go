package vomosim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
)

// testEpoch is the shared clock's start in tests.
var testEpoch = time.Date(2026, 3, 4, 15, 22, 10, 123456000, time.UTC)

// quiet is a scenario without churn or faults, for exact assertions.
func quiet(users int) Scenario {
	sc := DefaultScenario()
	sc.Name = "test"
	sc.Users = users
	return sc
}

// start runs a server on a manual clock behind a real HTTP listener.
func start(t testing.TB, sc Scenario) (*Server, *httptest.Server, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(testEpoch)
	srv, err := New(Options{Clock: clk, Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs, clk
}

func token(t testing.TB, srv *Server, id string) string {
	t.Helper()
	for _, ti := range srv.Tenants() {
		if ti.ID == id {
			return ti.Token
		}
	}
	t.Fatalf("no tenant %s", id)
	return ""
}

// call makes one request and returns status, headers and body.
func call(t testing.TB, method, url, tok, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// page is the paginator envelope as a client decodes it.
type page struct {
	Data  []map[string]any `json:"data"`
	Links struct {
		First, Last string
		Prev, Next  *string
	} `json:"links"`
	Meta struct {
		CurrentPage int    `json:"current_page"`
		From        *int   `json:"from"`
		To          *int   `json:"to"`
		LastPage    int    `json:"last_page"`
		Path        string `json:"path"`
		PerPage     int    `json:"per_page"`
		Total       int    `json:"total"`
	} `json:"meta"`
}

func getPage(t testing.TB, url, tok string) page {
	t.Helper()
	status, _, body := call(t, "GET", url, tok, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return p
}

func idOf(rec map[string]any) int64 { return int64(rec["id"].(float64)) }

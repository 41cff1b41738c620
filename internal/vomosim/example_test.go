package vomosim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/vomosim"
)

// Example shows the in-process use an end-to-end test makes of the
// simulator: one clock shared with the code under test, a real HTTP
// listener, control calls, and the truth to compare with at the end.
func Example() {
	clk := clock.NewManual(time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC))
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		panic(err)
	}
	sc.Tenants, sc.Users = 2, 50
	srv, err := vomosim.New(vomosim.Options{Clock: clk, Scenario: sc})
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	t1 := srv.Tenants()[0]

	clk.Advance(30 * time.Minute) // churn lands as the shared clock moves
	total := func() int {
		req, _ := http.NewRequest("GET", hs.URL+"/v1/users", nil)
		req.Header.Set("Authorization", "Bearer "+t1.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var p struct {
			Meta struct{ Total int } `json:"meta"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			panic(err)
		}
		return p.Meta.Total
	}
	n := total()

	ch := srv.Scenario().Churn
	ch.Enabled = false // quiesce before the final comparison
	if err := srv.SetChurn(ch); err != nil {
		panic(err)
	}
	truth, err := srv.Truth(t1.ID, "users")
	if err != nil {
		panic(err)
	}
	fmt.Println("tenants:", len(srv.Tenants()))
	fmt.Println("API total equals truth:", n == len(truth.Records))
	fmt.Println("requests counted:", srv.Counters()[t1.ID]["GET /v1/users"])

	if err := srv.Revoke(t1.ID); err != nil {
		panic(err)
	}
	req, _ := http.NewRequest("GET", hs.URL+"/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+t1.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("after Revoke:", resp.StatusCode)
	// Output:
	// tenants: 2
	// API total equals truth: true
	// requests counted: 1
	// after Revoke: 401
}

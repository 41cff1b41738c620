package vomosim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// tenant is one VOMO customer organization: its token, its data and its
// churn. Everything below mu is guarded by it; requests of different
// tenants never wait for each other.
type tenant struct {
	srv     *Server
	id      string
	token   string
	seed    uint64
	revoked atomic.Bool

	mu           sync.Mutex
	org          organization
	pool         *pool
	users        table[user]
	emails       map[string]int64 // lower-cased email -> user id
	projects     table[project]
	groups       table[group]
	campaigns    table[campaign]
	forms        table[form]
	certificates table[certificate]
	churn        churnState
	forbidden    map[string]bool // resources answering 403

	cmu      sync.Mutex
	counters map[string]int64 // "GET /v1/users" -> requests
	limit    rateWindow
}

type organization struct {
	id                      int64
	name, timezone, website string
	created                 int64
}

// tenantID names tenant number n (1-based).
func tenantID(n int) string { return fmt.Sprintf("t%03d", n) }

// tokenFor derives a tenant's bearer token from the seed, so a scenario
// and seed always print the same tokens (demo pipelines can name them).
func tokenFor(seed uint64, id string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("vomosim/%d/%s", seed, id)))
	return "vomo_" + hex.EncodeToString(h[:20])
}

// newTenant creates and fills tenant number n.
func newTenant(s *Server, n, users int, anchor int64) *tenant {
	id := tenantID(n)
	seed := hash64(s.seed, uint64(n))
	t := &tenant{
		srv:       s,
		id:        id,
		token:     tokenFor(s.seed, id),
		seed:      seed,
		pool:      newPool(),
		emails:    make(map[string]int64, users),
		forbidden: map[string]bool{},
		counters:  map[string]int64{},
	}
	t.org = organization{
		id:       int64(1000 + n),
		name:     orgNames[seed%uint64(len(orgNames))] + " " + strings.ToUpper(id),
		timezone: timezones[seed>>8%uint64(len(timezones))],
		website:  "https://" + id + ".example.org",
		created:  anchor - 4*365*86400e6,
	}
	t.generate(users, anchor)
	t.churn.init(seed)
	return t
}

// apiNowMicros is the API's present in microseconds.
func (t *tenant) apiNowMicros() int64 { return micros(t.srv.apiNow()) }

// count adds one request to the tenant's counter for an endpoint.
func (t *tenant) count(endpoint string) {
	t.cmu.Lock()
	t.counters[endpoint]++
	t.cmu.Unlock()
}

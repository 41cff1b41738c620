package vomosim

import (
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Scenario is everything that shapes a simulated VOMO: its tenants, the
// churn of their data, the behaviours VOMO-API.md can only assume (as
// switches) and the faults. Scenarios are JSON files; calm, adversarial
// and outage are built in.
type Scenario struct {
	Name     string   `json:"name"`
	Tenants  int      `json:"tenants"`  // number of tenants at start
	Users    int      `json:"users"`    // users per tenant (10..1,000,000)
	Seed     uint64   `json:"seed"`     // same seed, same data and tokens
	PerPage  int      `json:"per_page"` // the platform's page size
	Churn    Churn    `json:"churn"`
	Switches Switches `json:"switches"`
	Faults   Faults   `json:"faults"`
}

// Churn is the clock-driven stream of changes applied to every tenant.
type Churn struct {
	Enabled   bool    `json:"enabled"`
	PerMinute float64 `json:"per_minute"` // change events per tenant per minute of API time
	// Relative weights of the event kinds.
	Create      float64 `json:"create"`
	Update      float64 `json:"update"`
	Delete      float64 `json:"delete"`
	EmailChange float64 `json:"email_change"`
	BulkImport  float64 `json:"bulk_import"` // hundreds of records sharing one updated_at
	Project     float64 `json:"project"`
	Group       float64 `json:"group"`
	Form        float64 `json:"form"`
	BulkMin     int     `json:"bulk_min"`
	BulkMax     int     `json:"bulk_max"`
	// LateShare of writes commit late: a write stamped T becomes visible
	// only at T plus up to LateMax (a long transaction).
	LateShare float64  `json:"late_share"`
	LateMax   Duration `json:"late_max"`
}

// Switches vary what VOMO-API.md marks as assumed, so a client can be
// proven against each variant.
type Switches struct {
	// CountQuery is when meta.total is counted relative to the page's
	// select: "same" (one instant), "before" (Laravel: count, then select;
	// a drop shows one page late) or "after". Changes due within CountGap
	// before a request land between the two queries.
	CountQuery string   `json:"count_query"`
	CountGap   Duration `json:"count_gap"`
	// PerPageParam honours a per_page query parameter (up to MaxPerPage).
	PerPageParam bool `json:"per_page_param"`
	MaxPerPage   int  `json:"max_per_page"`
	// PerPageFlip is the probability that a page is served with
	// PerPageAlt records instead of the platform's page size, so the size
	// changes in the middle of a walk.
	PerPageAlt  int     `json:"per_page_alt"`
	PerPageFlip float64 `json:"per_page_flip"`
	// LinksDropFilters makes links.* carry only page=N.
	LinksDropFilters bool `json:"links_drop_filters"`
	// SecondResolution truncates new timestamps to the second (more ties).
	SecondResolution bool `json:"second_resolution"`
	// Order of lists: "id" (ascending, the assumption) or "id_desc".
	Order string `json:"order"`
	// ClockSkew is added to the shared clock to give the API's time: its
	// Date header, timestamps and "today".
	ClockSkew Duration `json:"clock_skew"`
}

// Faults break requests on purpose. Probabilities are per request.
type Faults struct {
	Enabled bool `json:"enabled"`
	// RateLimit requests per RateWindow per token, a fixed window as
	// Laravel's throttle keeps it; 0 is no limit.
	RateLimit  int      `json:"rate_limit"`
	RateWindow Duration `json:"rate_window"`
	// ErrorRate answers 500 (JSON) or 502/503/504 (HTML).
	ErrorRate float64 `json:"error_rate"`
	// TruncateRate answers 200 with the body cut short.
	TruncateRate float64 `json:"truncate_rate"`
	// Latency plus up to LatencyJitter is added to every request, in real
	// time; TimeoutRate of requests hang for Timeout (or until the client
	// gives up).
	Latency       Duration `json:"latency"`
	LatencyJitter Duration `json:"latency_jitter"`
	TimeoutRate   float64  `json:"timeout_rate"`
	Timeout       Duration `json:"timeout"`
	// Outages are windows in API time, relative to the server's start,
	// where every /v1 request answers 503.
	Outages []Outage `json:"outages"`
}

// Outage is a window of unavailability, repeated Every (if set).
type Outage struct {
	Start    Duration `json:"start"`
	Duration Duration `json:"duration"`
	Every    Duration `json:"every"`
}

// Duration is a time.Duration written as "30s" in JSON (or seconds).
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1m30s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("duration: want a string like \"30s\" or seconds, got %s", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

//go:embed scenarios/*.json
var builtin embed.FS

// Scenarios lists the built-in scenario names.
func Scenarios() []string {
	entries, _ := builtin.ReadDir("scenarios")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(out)
	return out
}

// LoadScenario reads a built-in scenario by name, or a JSON file by path.
func LoadScenario(nameOrPath string) (Scenario, error) {
	var b []byte
	var err error
	if !strings.ContainsAny(nameOrPath, `/\.`) {
		b, err = builtin.ReadFile(path.Join("scenarios", nameOrPath+".json"))
		if err != nil {
			return Scenario{}, fmt.Errorf("scenario %q: not built in (have %s)", nameOrPath, strings.Join(Scenarios(), ", "))
		}
	} else if b, err = os.ReadFile(nameOrPath); err != nil {
		return Scenario{}, fmt.Errorf("scenario: %w", err)
	}
	return ParseScenario(b)
}

// ParseScenario reads a scenario from JSON; unknown fields are errors so a
// typo in a switch does not silently leave it off.
func ParseScenario(b []byte) (Scenario, error) {
	sc := DefaultScenario()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return Scenario{}, fmt.Errorf("scenario: %w", err)
	}
	return sc, sc.Validate()
}

// DefaultScenario is a calm VOMO: one small tenant, no churn, no faults.
func DefaultScenario() Scenario {
	return Scenario{
		Name:    "default",
		Tenants: 1,
		Users:   100,
		Seed:    1,
		PerPage: 15,
		Churn: Churn{PerMinute: 60, Create: 3, Update: 6, Delete: 1, EmailChange: 1,
			BulkImport: 0.05, Project: 1, Group: 1, Form: 0.5, BulkMin: 100, BulkMax: 400},
		Switches: Switches{CountQuery: "same", MaxPerPage: 1000, Order: "id"},
		Faults:   Faults{RateWindow: Duration(time.Minute), Timeout: Duration(30 * time.Second)},
	}
}

// Validate reports a scenario that cannot run.
func (sc Scenario) Validate() error {
	var errs []string
	if sc.Tenants < 0 || sc.Tenants > 100000 {
		errs = append(errs, "tenants must be 0..100000")
	}
	if sc.Users < 0 || sc.Users > 1000000 {
		errs = append(errs, "users must be 0..1000000 per tenant")
	}
	if sc.PerPage < 1 || sc.PerPage > 10000 {
		errs = append(errs, "per_page must be 1..10000")
	}
	errs = append(errs, sc.Churn.check()...)
	errs = append(errs, sc.Switches.check()...)
	errs = append(errs, sc.Faults.check()...)
	if len(errs) > 0 {
		return fmt.Errorf("scenario %s: %s", sc.Name, strings.Join(errs, "; "))
	}
	return nil
}

func (c Churn) check() []string {
	var errs []string
	if c.PerMinute < 0 || c.PerMinute > 6e6 {
		errs = append(errs, "churn.per_minute must be 0..6000000")
	}
	for _, w := range []float64{c.Create, c.Update, c.Delete, c.EmailChange, c.BulkImport, c.Project, c.Group, c.Form} {
		if w < 0 {
			errs = append(errs, "churn weights must not be negative")
			break
		}
	}
	if c.BulkMin < 1 || c.BulkMax < c.BulkMin || c.BulkMax > 100000 {
		errs = append(errs, "churn.bulk_min/bulk_max must satisfy 1 <= min <= max <= 100000")
	}
	if c.LateShare < 0 || c.LateShare > 1 || c.LateMax < 0 {
		errs = append(errs, "churn.late_share must be 0..1 and late_max not negative")
	}
	return errs
}

func (s Switches) check() []string {
	var errs []string
	switch s.CountQuery {
	case "same", "before", "after":
	default:
		errs = append(errs, `switches.count_query must be "same", "before" or "after"`)
	}
	switch s.Order {
	case "id", "id_desc":
	default:
		errs = append(errs, `switches.order must be "id" or "id_desc"`)
	}
	if s.MaxPerPage < 1 {
		errs = append(errs, "switches.max_per_page must be at least 1")
	}
	if s.PerPageFlip < 0 || s.PerPageFlip > 1 || (s.PerPageFlip > 0 && s.PerPageAlt < 1) {
		errs = append(errs, "switches.per_page_flip must be 0..1 and needs per_page_alt")
	}
	if s.CountGap < 0 {
		errs = append(errs, "switches.count_gap must not be negative")
	}
	return errs
}

func (f Faults) check() []string {
	var errs []string
	for _, p := range []float64{f.ErrorRate, f.TruncateRate, f.TimeoutRate} {
		if p < 0 || p > 1 {
			errs = append(errs, "fault probabilities must be 0..1")
			break
		}
	}
	if f.RateLimit < 0 || (f.RateLimit > 0 && f.RateWindow <= 0) {
		errs = append(errs, "faults.rate_limit needs a positive rate_window")
	}
	for i, o := range f.Outages {
		if o.Duration <= 0 || o.Start < 0 || o.Every < 0 || (o.Every > 0 && o.Every <= o.Duration) {
			errs = append(errs, "faults.outages["+strconv.Itoa(i)+"]: need start >= 0, duration > 0 and every > duration (or 0)")
		}
	}
	return errs
}

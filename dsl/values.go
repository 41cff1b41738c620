package dsl

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and prints in the language's
// form: Go syntax plus "d" for days ("90s", "30m", "1d", "1d12h").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints d compactly: "5m", "1h30m", "2d".
func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

// MarshalJSON prints d as its string form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// ParseDuration reads a duration in the language's form. Negative and
// zero durations are the caller's to refuse.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration; write a number and a unit, like \"30s\", \"5m\", \"1h\" or \"1d\"")
	}
	var days int64
	rest := in
	if i := strings.IndexByte(rest, 'd'); i >= 0 {
		n, err := strconv.ParseInt(rest[:i], 10, 32)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q; write a number and a unit, like \"30s\", \"5m\", \"1h\" or \"1d\"", s)
		}
		days, rest = n, rest[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("invalid duration %q; write a number and a unit, like \"30s\", \"5m\", \"1h\" or \"1d\"", s)
		}
	}
	if days > 0 && d < 0 {
		return 0, fmt.Errorf("invalid duration %q: mixed signs", s)
	}
	return time.Duration(days)*24*time.Hour + d, nil
}

// FormatDuration prints d the way ParseDuration reads it, without zero
// units: 90*time.Minute is "1h30m", 48h is "2d".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	units := []struct {
		suffix string
		size   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", 1}}
	for _, u := range units {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.suffix)
			d -= n * u.size
		}
	}
	return b.String()
}

// Rate is a budget of N requests per Per.
type Rate struct {
	N   int      `json:"n"`
	Per Duration `json:"per"`
}

// PerHour is the rate's requests per hour.
func (r Rate) PerHour() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.N) * float64(time.Hour) / float64(r.Per)
}

// String prints the rate as written: "60/1m".
func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.N, r.Per) }

// MarshalJSON prints the rate as its string form.
func (r Rate) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// ParseRate reads "N/duration" with N ≥ 1 and a positive duration. A bare
// unit ("60/minute") is refused with the form to use instead.
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("invalid rate %q; write requests/duration, like \"60/1m\"", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil {
		return Rate{}, fmt.Errorf("invalid rate %q: %q is not a whole number; write requests/duration, like \"60/1m\"", s, n)
	}
	if count < 1 {
		return Rate{}, fmt.Errorf("invalid rate %q: the request count must be at least 1 (pause a tenant with enabled = false instead)", s)
	}
	d, err := ParseDuration(per)
	if err != nil {
		if unit := strings.TrimSpace(per); unit != "" && !strings.ContainsAny(unit, "0123456789") {
			return Rate{}, fmt.Errorf("invalid rate %q: %q needs a number; write \"%d/1%s\"", s, unit, count, shortUnit(unit))
		}
		return Rate{}, fmt.Errorf("invalid rate %q: %v", s, err)
	}
	if d <= 0 {
		return Rate{}, fmt.Errorf("invalid rate %q: the duration must be positive", s)
	}
	return Rate{N: count, Per: Duration(d)}, nil
}

func shortUnit(unit string) string {
	switch strings.ToLower(strings.TrimSuffix(strings.ToLower(unit), "s")) {
	case "second", "sec":
		return "s"
	case "minute", "min":
		return "m"
	case "hour", "hr":
		return "h"
	case "day":
		return "d"
	}
	return "m"
}

// String prints the value for humans, never revealing a secret: a
// sensitive value prints as (sensitive), an unknown one as (from env X)
// or (known at run time).
func (v Value) String() string {
	switch {
	case !v.Known && v.FromEnv != "":
		return "(from env " + v.FromEnv + ")"
	case !v.Known:
		return "(known at run time)"
	case v.Sensitive:
		return "(sensitive)"
	}
	return v.Text
}

// MarshalJSON adds the display text to the value's fields, redacted.
func (v Value) MarshalJSON() ([]byte, error) {
	type plain Value
	return json.Marshal(struct {
		plain
		Display string `json:"display"`
	}{plain(v), v.String()})
}

// String prints "HH:MM".
func (c Clock) String() string {
	if c.Now {
		return "now"
	}
	return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute)
}

// ParseClock reads a 24-hour "H:MM" or "HH:MM".
func ParseClock(s string) (Clock, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hour, err1 := strconv.Atoi(h)
	minute, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(h) < 1 || len(h) > 2 || len(m) != 2 ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 {
		return Clock{}, fmt.Errorf("invalid time %q; write a 24-hour time like \"03:00\" or \"23:30\"", s)
	}
	return Clock{Hour: hour, Minute: minute}, nil
}

// String prints "sun 04:00".
func (w Weekly) String() string {
	return strings.ToLower(w.Day.String()[:3]) + " " + w.At.String()
}

// ParseWeekly reads "day HH:MM" with the day as mon…sun or a full name, any case.
func ParseWeekly(s string) (Weekly, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return Weekly{}, fmt.Errorf("invalid weekly time %q; write a day and a time, like \"sun 04:00\"", s)
	}
	day, ok := parseWeekday(fields[0])
	if !ok {
		return Weekly{}, fmt.Errorf("invalid day %q in %q; write mon, tue, wed, thu, fri, sat or sun", fields[0], s)
	}
	at, err := ParseClock(fields[1])
	if err != nil {
		return Weekly{}, err
	}
	return Weekly{Day: day, At: at}, nil
}

func parseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(s)
	for d := time.Sunday; d <= time.Saturday; d++ {
		full := strings.ToLower(d.String())
		if s == full || s == full[:3] {
			return d, true
		}
	}
	return 0, false
}

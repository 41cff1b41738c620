package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "throttle",
		Usage:     "scale every rate budget of the hub at once (50% halves every rate), reset it, or show it",
		ArgsUsage: "PERCENT% | FACTOR | reset | show",
		Flags:     operatorFlags(&cli.BoolFlag{Name: "json", Usage: "print JSON"}),
		Action:    runThrottle,
	})
}

// throttleView is what throttle prints with --json.
type throttleView struct {
	Factor  float64 `json:"factor"`
	Percent float64 `json:"percent"`
}

func runThrottle(c *cli.Context) error {
	a := argsOf(c)
	if len(a.args) != 1 {
		return &exitError{code: 1, msg: "usage: siphon throttle PERCENT% | FACTOR | reset | show (for example siphon throttle 50%; the configuration directory goes in --config)"}
	}
	arg := a.args[0]
	factor, set, err := parseThrottle(arg)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	dir, plan, err := loadConfig(a.config)
	if err != nil {
		return err
	}
	// The throttle is hub-wide state: it lives in the hub's store, which
	// every worker of every region reads it from.
	st, err := openStoreIn(c, a.store, plan, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	was, err := st.Throttle(c.Context)
	if err != nil {
		return fmt.Errorf("read the throttle: %w", err)
	}
	if !set {
		return printThrottle(c, a.json, was, "")
	}
	if err := st.SetThrottle(c.Context, factor); err != nil {
		return fmt.Errorf("set the throttle to %s: %w", percent(factor), err)
	}
	action := "throttle"
	if factor == 1 {
		action = "throttle reset"
	}
	if err := audit(c, target{}, st, action, fmt.Sprintf("%s (was %s)", percent(factor), percent(was))); err != nil {
		return err
	}
	return printThrottle(c, a.json, factor, fmt.Sprintf(" (was %s); running workers use it within seconds", percent(was)))
}

func printThrottle(c *cli.Context, asJSON bool, factor float64, tail string) error {
	if asJSON {
		return printJSON(c.App.Writer, throttleView{Factor: factor, Percent: factor * 100})
	}
	if factor >= 1 {
		_, err := fmt.Fprintf(c.App.Writer, "throttle: none, every budget at its full rate%s\n", tail)
		return err
	}
	_, err := fmt.Fprintf(c.App.Writer, "throttle: every budget at %s of its rate%s\n", percent(factor), tail)
	return err
}

// parseThrottle reads "50%", "0.5", "reset" (no throttle) or "show"; set
// is false for show.
func parseThrottle(s string) (factor float64, set bool, err error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "show":
		return 0, false, nil
	case "reset":
		return 1, true, nil
	}
	v, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, perr := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("throttle %q: want a percentage like 50%%, a factor like 0.5, reset or show", s)
	}
	if pct {
		f /= 100
	}
	if f <= 0 || f > 1 {
		return 0, false, fmt.Errorf("throttle %q: must be above 0%% and at most 100%% (a factor above 0 and at most 1)", s)
	}
	return f, true, nil
}

// percent prints a factor as a percentage to two decimals: 0.5 → "50%".
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*10000)/100, 'f', -1, 64) + "%"
}

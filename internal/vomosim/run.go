package vomosim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
)

// Main runs the simulator as a program, for cmd/vomosim and `siphon dev
// vomosim`: it parses args, serves until ctx ends or the process is
// interrupted, and prints on start-up the base URL, the control URL and one
// token per tenant (the only place tokens are ever printed).
func Main(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (the control surface under /_sim/ has no authentication)")
	scenario := fs.String("scenario", "calm", "built-in scenario ("+strings.Join(Scenarios(), ", ")+") or a JSON file")
	// Unset numbers keep the scenario's values.
	set := map[string]int64{}
	for _, f := range []struct{ name, usage string }{
		{"tenants", "`N` tenants (default: the scenario's)"},
		{"users", "`N` users per tenant, 10..1000000 (default: the scenario's)"},
		{"seed", "`N` seeds the generated data and tokens (default: the scenario's)"},
		{"per-page", "`N` records per page, the platform's choice (default: the scenario's)"},
	} {
		fs.Func(f.name, f.usage, func(s string) error {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 {
				return fmt.Errorf("want a whole number, got %q", s)
			}
			set[f.name] = v
			return nil
		})
	}
	scale := fs.Float64("clock-scale", 1, "run the API clock this many times faster than real time (churn, windows)")
	epoch := fs.String("clock-epoch", "", "with --clock-scale: the real `TIME` (RFC 3339) at which the API clock reads the wall clock (default: start-up); processes given the same epoch and scale share one clock")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	sc, err := LoadScenario(*scenario)
	if err != nil {
		return err
	}
	if v, ok := set["tenants"]; ok {
		sc.Tenants = int(v)
	}
	if v, ok := set["users"]; ok {
		sc.Users = int(v)
	}
	if v, ok := set["seed"]; ok {
		sc.Seed = uint64(v)
	}
	if v, ok := set["per-page"]; ok {
		sc.PerPage = int(v)
	}
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if *scale <= 0 {
		return fmt.Errorf("%s: --clock-scale must be positive", name)
	}
	var clk clock.Clock = clock.Real{}
	switch {
	case *epoch != "":
		at, err := time.Parse(time.RFC3339Nano, *epoch)
		if err != nil {
			return fmt.Errorf("%s: --clock-epoch %q: want an RFC 3339 time such as 2026-03-04T12:00:00Z", name, *epoch)
		}
		clk = clock.NewScaledSince(at, *scale)
	case *scale != 1:
		clk = clock.NewScaled(time.Now(), *scale)
	}
	srv, err := New(Options{Clock: clk, Scenario: sc})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("%s: listen: %w", name, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "vomosim: scenario %s, %d tenants x %d users, seed %d, per_page %d\n", sc.Name, sc.Tenants, sc.Users, sc.Seed, sc.PerPage)
	fmt.Fprintf(stdout, "base URL:    %s/v1\n", base)
	fmt.Fprintf(stdout, "control URL: %s/_sim/\n", base)
	infos := srv.Tenants()
	for _, ti := range infos {
		fmt.Fprintf(stdout, "tenant %s org=%d token=%s\n", ti.ID, ti.OrganizationID, ti.Token)
	}
	if len(infos) > 0 {
		fmt.Fprintf(stdout, "try: curl -H 'Authorization: Bearer %s' '%s/v1/users?page=1'\n", infos[0].Token, base)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: serve: %w", name, err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shut); err != nil {
		return fmt.Errorf("%s: shutdown: %w", name, err)
	}
	return nil
}

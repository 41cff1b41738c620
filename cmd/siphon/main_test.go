package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/plugins/destinations/sqlite"
	"github.com/siphonhq/siphon/plugins/host"
)

// TestMain serves a built-in destination when a test launches one: the host
// re-executes /proc/self/exe, which here is this test binary.
//
// With SIPHON_TEST_CLI=1 it is the siphon command instead, so a test can run
// a second command at the same time in its own process: the commands'
// flags are package state, so two in one process would race.
func TestMain(m *testing.M) {
	host.ServeBuiltinIfAsked()
	if os.Getenv("SIPHON_TEST_CLI") == "1" {
		os.Exit(run(append([]string{"siphon"}, os.Args[1:]...), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// withLauncher adds a command that launches the sqlite built-in, sends its
// pid on the returned channel, and then returns (or, with wait, returns
// when its context ends) without stopping the plugin.
func withLauncher(t *testing.T, wait bool) <-chan int {
	t.Helper()
	pids := make(chan int, 1)
	saved := commands
	commands = append(slices.Clone(commands), &cli.Command{
		Name:   "test-launch",
		Hidden: true,
		Action: func(c *cli.Context) error {
			d, err := host.Launch(c.Context, host.LaunchConfig{Name: "leak", Plugin: sqlite.Name, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				return err
			}
			pids <- d.Pid()
			if wait {
				<-c.Context.Done()
				return context.Cause(c.Context)
			}
			return nil
		},
	})
	t.Cleanup(func() { commands = saved })
	return pids
}

// TestPluginsStopWhenCommandReturns: a plugin a command left running is
// stopped before run returns.
func TestPluginsStopWhenCommandReturns(t *testing.T) {
	pids := withLauncher(t, false)
	code, _, errOut := siphon(t, "test-launch")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if pid := <-pids; !processGone(pid) {
		t.Fatalf("plugin %d still runs after run returned", pid)
	}
}

// TestPluginsStopOnSignal: SIGTERM ends the command through its context,
// and its plugin is stopped before run returns.
func TestPluginsStopOnSignal(t *testing.T) {
	pids := withLauncher(t, true)
	type result struct {
		code   int
		errOut string
	}
	done := make(chan result, 1)
	go func() {
		var out, errOut strings.Builder
		code := run([]string{"siphon", "test-launch"}, &out, &errOut)
		done <- result{code, errOut.String()}
	}()
	pid := <-pids
	if processGone(pid) {
		t.Fatalf("plugin %d is not running before the signal", pid)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.code != 1 || !strings.Contains(res.errOut, "terminated") {
		t.Fatalf("exit %d: %s", res.code, res.errOut)
	}
	if !processGone(pid) {
		t.Fatalf("plugin %d still runs after run returned", pid)
	}
}

// processGone reports whether pid no longer runs (absent, or a zombie
// nobody reaped).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

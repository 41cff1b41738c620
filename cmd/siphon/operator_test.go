package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/internal/state/redistest"
)

// A Redis without appendonly is refused by every command that opens the
// store, with the way out in the message; --unsafe-store (or
// SIPHON_UNSAFE_STORE) opens it, with a warning on stderr.
func TestUnsafeStoreFlag(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "no")
	dir := operatorConfig(t)
	const warning = "siphon: warning: --unsafe-store"
	commands := [][]string{
		{"status", "--config", dir},
		{"checkpoint", "get", "acme", "--config", dir},
		{"credentials", "delete", "acme", "--config", dir},
		// run opens the store before it takes any job: with no master key
		// every tenant pauses, so a run that got past the store exits 1
		// for the pauses, not for the store.
		{"run", "--once", dir},
	}
	for _, args := range commands {
		name := strings.Join(args[:2], " ")
		args = append(args, "--store", srv.URL())
		code, out, errOut := siphon(t, args...)
		if code == 0 || !strings.Contains(errOut, "appendonly is \"no\"") || !strings.Contains(errOut, "pass --unsafe-store") {
			t.Errorf("%s without --unsafe-store: exit %d, stdout %q, stderr %q; want the refusal", name, code, out, errOut)
		}
		if strings.Contains(errOut, warning) {
			t.Errorf("%s without --unsafe-store warned: %s", name, errOut)
		}

		code, out, errOut = siphon(t, append(args, "--unsafe-store")...)
		if strings.Contains(errOut, "pass --unsafe-store") || !strings.Contains(errOut, warning) {
			t.Errorf("%s --unsafe-store: exit %d, stdout %q, stderr %q; want it opened with a warning", name, code, out, errOut)
		}
		if name != "run --once" && code != 0 {
			t.Errorf("%s --unsafe-store: exit %d, stderr %q", name, code, errOut)
		}
	}

	t.Setenv("SIPHON_UNSAFE_STORE", "1")
	code, _, errOut := siphon(t, "status", "--config", dir, "--store", srv.URL())
	if code != 0 || !strings.Contains(errOut, warning) {
		t.Errorf("status with SIPHON_UNSAFE_STORE=1: exit %d, stderr %q", code, errOut)
	}
}

// A pool size under one is refused with the flag named, before the store
// is opened.
func TestRunRefusesEmptyPools(t *testing.T) {
	dir := operatorConfig(t)
	for _, f := range []string{"--workers", "--poll-slots"} {
		code, _, errOut := siphon(t, "run", "--once", f, "0", dir)
		if code != 1 || !strings.Contains(errOut, f+" must be at least 1, got 0") {
			t.Errorf("run %s 0: exit %d, stderr %q", f, code, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".siphon", "state.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the store was opened (%v)", err)
	}
}

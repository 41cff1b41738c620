package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// hub is `siphon run DIR` in a child process (this test binary, re-executed
// into the test that asked for it), holding DIR's local store.
type hub struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

// hubEnv names the configuration directory a re-executed test binary runs.
const hubEnv = "SIPHON_TEST_HUB_DIR"

// runHubIfAsked turns a re-executed test binary into `siphon run`.
func runHubIfAsked() {
	if dir := os.Getenv(hubEnv); dir != "" {
		os.Exit(run([]string{"siphon", "run", dir}, os.Stdout, os.Stderr))
	}
}

// startHub starts `siphon run dir` and returns once it holds and serves
// its store.
func startHub(t *testing.T, dir string) *hub {
	t.Helper()
	h := &hub{done: make(chan error, 1)}
	h.cmd = exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$")
	h.cmd.Env = append(os.Environ(), hubEnv+"="+dir)
	h.cmd.Stderr = &h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	t.Cleanup(func() {
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Kill()
			<-h.done
		}
	})
	// The store's holder file names the child once it holds the store and
	// serves it (a socket file alone may be a killed hub's).
	holder := filepath.Join(dir, ".siphon", "state.db.holder")
	want := fmt.Sprintf("pid %d ", h.cmd.Process.Pid)
	for {
		if b, err := os.ReadFile(holder); err == nil && strings.HasPrefix(string(b), want) {
			if strings.Contains(string(b), "not serving") {
				t.Fatalf("siphon run does not serve its store: %s", b)
			}
			return h
		}
		select {
		case err := <-h.done:
			t.Fatalf("siphon run exited before serving its store: %v\n%s", err, h.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends the hub with sig and returns its exit error.
func (h *hub) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	return <-h.done
}

// TestOperatorCommandsWhileRunHolds: while `siphon run` holds the embedded
// store, status, checkpoint, credentials and dlq work through the socket
// it serves, while a second run is refused; a killed hub's stale socket does
// not stop the next run, and a store locked by something that does not serve
// it gives a clear error.
func TestOperatorCommandsWhileRunHolds(t *testing.T) {
	runHubIfAsked()
	dir := operatorConfig(t)
	storePath := filepath.Join(dir, ".siphon", "state.db")
	h := startHub(t, dir)

	code, out, errOut := siphon(t, "status", "--config", dir, "--json")
	if code != 0 {
		t.Fatalf("status while run holds the store: %d %s", code, errOut)
	}
	var st []tenantStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 2 || st[0].Tenant != "acme" {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	code, out, errOut = siphon(t, "checkpoint", "set", "acme", "volunteers", "--cursor", "2025-12-31T00:00:00Z", "--config", dir)
	if code != 0 || !strings.Contains(out, "generation 1") {
		t.Fatalf("checkpoint set while run holds the store: %d %q %s", code, out, errOut)
	}
	vs := getJSON(t, "acme", "volunteers", "--config", dir, "--json")
	if len(vs) != 1 || !vs[0].Cursor.Equal(time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)) || vs[0].Generation != 1 {
		t.Fatalf("checkpoint get while run holds the store: %+v", vs)
	}
	withStdin(t, "a-token\n", func() {
		code, out, errOut = siphon(t, "credentials", "set", "globex", "--config", dir)
	})
	if code != 0 || !strings.Contains(out, "stored the sealed token of globex") {
		t.Fatalf("credentials set while run holds the store: %d %s %s", code, out, errOut)
	}
	code, out, errOut = siphon(t, "dlq", "list", "acme", "--config", dir, "--json")
	if code != 0 {
		t.Fatalf("dlq list while run holds the store: %d %s %s", code, out, errOut)
	}

	// A second run is refused, naming the holder and the store, rather than
	// becoming a second worker through the first one's socket; the first
	// run goes on serving operator commands.
	code, out, errOut = siphon(t, "run", "--once", "--config", dir)
	if code != 1 {
		t.Fatalf("a second siphon run on a held embedded store exited %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{storePath, fmt.Sprintf("pid %d ", h.cmd.Process.Pid), "stop that process first", "use a Redis store"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the second run's error lacks %q: %s", want, errOut)
		}
	}
	if out != "" {
		t.Errorf("the refused run printed a summary: %s", out)
	}
	if code, _, errOut = siphon(t, "status", "--config", dir); code != 0 {
		t.Fatalf("status after a second run was refused: %d %s", code, errOut)
	}

	// A killed hub leaves its socket; the next run replaces it.
	if err := h.stop(t, syscall.SIGKILL); err == nil {
		t.Fatal("a killed siphon run exited cleanly")
	}
	if _, err := os.Lstat(storePath + ".sock"); err != nil {
		t.Fatalf("the killed hub left no socket: %v", err)
	}
	h = startHub(t, dir)
	vs = getJSON(t, "acme", "volunteers", "--config", dir, "--json")
	if len(vs) != 1 || vs[0].Generation != 1 {
		t.Fatalf("checkpoint get through the second hub: %+v", vs)
	}
	if err := h.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("siphon run after SIGTERM: %v\n%s", err, h.stderr.String())
	}
	if _, err := os.Lstat(storePath + ".sock"); !os.IsNotExist(err) {
		t.Fatalf("socket left after siphon run stopped: %v", err)
	}

	// Locked by a process that serves nothing: the command fails at once,
	// naming the store and its socket.
	db, err := bolt.Open(storePath, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	code, _, errOut = siphon(t, "status", "--config", dir)
	if code != 1 || !strings.Contains(errOut, "store is locked by another process") || !strings.Contains(errOut, storePath+".sock") {
		t.Fatalf("status on a store locked without a socket: %d %s", code, errOut)
	}
}

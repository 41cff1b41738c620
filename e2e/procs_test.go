package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/vomosim"
)

// The shared clock: one real second is twenty seconds of scheduler and
// API time, so the 30s cadence polls every 1.5 s, settle (30s) passes in
// 1.5 s and overlap (1m) in 3 s. Leases and the visibility timeout are in
// the store's real time.
const (
	clockScale = 20
	settle     = 30 * time.Second
	overlap    = time.Minute
	leaseTTL   = 2 * time.Second
	visibility = 3 * time.Second
)

// env is one test's world: a vomosim process, a store (a redis-server
// started for the test, or a bbolt file), a configuration directory with
// every tenant's token stored, and the siphon processes started on it.
type env struct {
	t     *testing.T
	size  size
	dir   string // the test's private directory: logs, the simulator's output
	cfg   string // the configuration directory
	store string // the store URL or bbolt path
	redis *redistest.Server
	epoch time.Time
	clk   clock.Clock // the shared clock, as the processes read it
	sim   *simProc

	rate    string    // the source's rate_limit, "" for 100000/1m
	workers []*worker // every siphon run process started, in order
	// revoked tenants are paused by their 401s: their data stops where
	// the revocation found it, so quiescence and exactness skip them.
	revoked map[string]bool
}

type envOpts struct {
	redis bool
	// size replaces the run's size; rate the source's rate_limit
	// (default 100000/1m).
	size *size
	rate string
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	binaries(t)
	e := &env{t: t, size: runSize(), dir: testDir(t), epoch: time.Now(), revoked: map[string]bool{}, rate: o.rate}
	if o.size != nil {
		e.size = *o.size
	}
	e.clk = clock.NewScaledSince(e.epoch, clockScale)
	if o.redis {
		// Every write is on disk before Redis answers, so a restart loses
		// nothing the runner was told was done.
		e.redis = redistest.Start(t, "--appendfsync", "always")
		e.store = e.redis.URL()
	}
	e.sim = e.startSim()
	e.cfg = filepath.Join(e.dir, "hub")
	if e.store == "" {
		e.store = filepath.Join(e.cfg, ".siphon", "state.db")
	}
	e.writeConfig(o.redis)
	for _, id := range e.sim.tenants {
		e.siphon(strings.NewReader(e.sim.tokens[id]+"\n"), "credentials", "set", id, "--config", e.cfg, "--store", e.store)
	}
	return e
}

// testDir is the test's private directory. With SIPHON_E2E_KEEP=DIR it
// is made under DIR and kept, logs and all, for a look after a failure.
func testDir(t *testing.T) string {
	keep := os.Getenv("SIPHON_E2E_KEEP")
	if keep == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(keep, t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("keeping the run's files in %s", dir)
	return dir
}

// scenario is vomosim's adversarial scenario (Laravel's late count with
// changes between count and select, page sizes flipping mid-walk,
// second-resolution ties, bulk imports sharing one updated_at, late-visible
// writes, a skewed API clock, 429s, 5xx, truncated bodies and hung
// requests) at this run's size. Bulk imports are smaller than the
// scenario's so that a CI run stays within its record budget.
func (e *env) scenario() string {
	sc, err := vomosim.LoadScenario("adversarial")
	if err != nil {
		e.t.Fatal(err)
	}
	sc.Tenants, sc.Users = e.size.tenants, e.size.users
	sc.Churn.Enabled, sc.Churn.PerMinute = true, e.size.churn
	sc.Churn.BulkMin, sc.Churn.BulkMax = 10, 40
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.dir, "scenario.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// simProc is a running vomosim process.
type simProc struct {
	exited  chan struct{}
	base    string // http://127.0.0.1:PORT
	tenants []string
	tokens  map[string]string // never logged
}

func (e *env) startSim() *simProc {
	t := e.t
	t.Helper()
	// The start-up listing holds the tokens: it goes to a file in the
	// test's private directory, never to the test's output.
	outPath := filepath.Join(e.dir, "vomosim.out")
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vomosimBin, "--addr", "127.0.0.1:0", "--scenario", e.scenario(),
		"--clock-scale", strconv.Itoa(clockScale), "--clock-epoch", e.epoch.Format(time.RFC3339Nano))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start vomosim: %v", err)
	}
	out.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	s := &simProc{exited: exited, tokens: map[string]string{}}
	tenantLine := regexp.MustCompile(`^tenant (\S+) org=\d+ token=(\S+)$`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(outPath)
		// "try: curl" is the last line of the listing.
		if bytes.Contains(b, []byte("\ntry: curl")) {
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				line := sc.Text()
				if v, ok := strings.CutPrefix(line, "base URL:"); ok {
					s.base = strings.TrimSuffix(strings.TrimSpace(v), "/v1")
				}
				if m := tenantLine.FindStringSubmatch(line); m != nil {
					s.tenants = append(s.tenants, m[1])
					s.tokens[m[1]] = m[2]
				}
			}
			break
		}
		select {
		case <-exited:
			t.Fatalf("vomosim exited at start-up (its output is in %s)", outPath)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("vomosim did not list its tenants within 30s")
		}
	}
	if s.base == "" || len(s.tenants) != e.size.tenants {
		t.Fatalf("vomosim listed base %q and %d tenants, want %d", s.base, len(s.tenants), e.size.tenants)
	}
	return s
}

// controlClient calls the simulator's control surface; the timeout only
// stops a broken run from hanging.
var controlClient = &http.Client{Timeout: 30 * time.Second}

func newControlRequest(method, url, body string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// writeConfig writes the hub's configuration: the users resource polled
// every 30s by one pipeline into a sqlite file, for every tenant.
func (e *env) writeConfig(shared bool) {
	allow := ""
	if shared {
		// Every worker of these tests runs on this host.
		allow = "allow_single_node = true"
	}
	rate := e.rate
	if rate == "" {
		rate = "100000/1m"
	}
	var tenants strings.Builder
	for _, id := range e.sim.tenants {
		fmt.Fprintf(&tenants, "tenant %q {\n  pipelines = [pipeline.volunteers]\n  backfill_at = \"now\"\n}\n", id)
	}
	files := map[string]string{
		"source.hcl": fmt.Sprintf(`source "vomo" {
  kind       = "vomo"
  base_url   = %q
  timeout    = "2s"
  rate_limit = %q
  retry {
    attempts    = 10
    backoff     = "1s"
    max_backoff = "10s"
  }
}

resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cadence     = "30s"
  cursor {
    field   = "updated_at"
    param   = "updated_after"
    overlap = %q
    settle  = %q
  }
}

destination "db" {
  plugin     = "sqlite"
  config     = { path = "out/destination.db" }
  batch_size = 100
  %s
}

pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  fields = {
    email  = record.email
    status = record.membership_status
  }
}
`, e.sim.base+"/v1", rate, overlap.String(), settle.String(), allow),
		"tenants.hcl": tenants.String(),
	}
	if err := os.MkdirAll(e.cfg, 0o700); err != nil {
		e.t.Fatal(err)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(e.cfg, name), []byte(src), 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
}

// siphonEnv is the environment siphon processes run with: the test's own,
// less anything that would point siphon elsewhere.
func siphonEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SIPHON_") })
}

// siphon runs a short siphon command and fails the test when it fails.
func (e *env) siphon(stdin io.Reader, args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, siphonBin, args...)
	cmd.Stdin, cmd.Env = stdin, siphonEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("siphon %s: %v\n%s", args[0], err, e.redact(out))
	}
	return string(out)
}

// redact hides every tenant's token in text meant for the test's output.
func (e *env) redact(b []byte) string {
	s := string(b)
	for _, tok := range e.sim.tokens {
		s = strings.ReplaceAll(s, tok, "<token>")
	}
	return s
}

// runArgs are the flags every siphon run of these tests takes.
func (e *env) runArgs() []string {
	return []string{"run", "--config", e.cfg, "--store", e.store, "--workers", "4",
		"--clock-scale", strconv.Itoa(clockScale), "--clock-epoch", e.epoch.Format(time.RFC3339Nano),
		"--lease-ttl", leaseTTL.String(), "--visibility", visibility.String()}
}

// worker is one `siphon run` process.
type worker struct {
	name     string
	cmd      *exec.Cmd
	logPath  string
	exited   chan struct{}
	err      error // set before exited closes
	killed   bool  // by the test
	stopping bool  // SIGTERM sent by the test
}

// startWorker starts a `siphon run` process; its JSON log goes to a file.
func (e *env) startWorker(extra ...string) *worker {
	e.t.Helper()
	return e.startWorkerEnv(siphonEnv(), extra...)
}

// startWorkerEnv is startWorker with the process's environment given.
func (e *env) startWorkerEnv(env []string, extra ...string) *worker {
	t := e.t
	t.Helper()
	w := &worker{name: fmt.Sprintf("w%d", len(e.workers)+1), exited: make(chan struct{})}
	w.logPath = filepath.Join(e.dir, w.name+".log")
	f, err := os.Create(w.logPath)
	if err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(siphonBin, append(e.runArgs(), extra...)...)
	w.cmd.Stdout, w.cmd.Stderr, w.cmd.Env = f, f, env
	// The worker dies with the test binary even if the test is killed.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start siphon run: %v", err)
	}
	go func() {
		w.err = w.cmd.Wait()
		f.Close()
		close(w.exited)
	}()
	t.Cleanup(func() {
		if !w.done() {
			_ = w.cmd.Process.Kill()
			<-w.exited
		}
	})
	e.workers = append(e.workers, w)
	return w
}

func (w *worker) pid() int { return w.cmd.Process.Pid }

func (w *worker) done() bool {
	select {
	case <-w.exited:
		return true
	default:
		return false
	}
}

// kill9 kills the worker with SIGKILL and waits until it is gone, and
// its plugin too: a plugin whose host died exits by itself (parent-death
// signal, and the SDK's watch on its parent), leaving no orphan behind.
func (e *env) kill9(w *worker) {
	e.t.Helper()
	plugins := w.children()
	w.killed = true
	if err := syscall.Kill(w.pid(), syscall.SIGKILL); err != nil && !w.done() {
		e.t.Fatalf("kill %s: %v", w.name, err)
	}
	<-w.exited
	e.waitFor(30*time.Second, fmt.Sprintf("the plugin processes %v of the killed %s to exit", plugins, w.name), func() bool {
		return !slices.ContainsFunc(plugins, func(pid int) bool { return !processGone(pid) })
	})
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

// stop sends SIGTERM and waits for a clean exit.
func (e *env) stop(w *worker) {
	e.t.Helper()
	w.stopping = true
	_ = syscall.Kill(w.pid(), syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(30 * time.Second):
		e.t.Fatalf("%s did not stop within 30s of SIGTERM:\n%s", w.name, e.tail(w))
	}
	if w.err != nil {
		e.t.Errorf("%s exited with %v after SIGTERM:\n%s", w.name, w.err, e.tail(w))
	}
}

// checkAlive fails the test when the simulator, or a worker the test did
// not stop, has exited: `siphon run` rides out store outages and plugin
// crashes.
func (e *env) checkAlive() {
	e.t.Helper()
	select {
	case <-e.sim.exited:
		e.t.Fatalf("vomosim exited (its output is in %s)", filepath.Join(e.dir, "vomosim.out"))
	default:
	}
	for _, w := range e.workers {
		if !w.killed && !w.stopping && w.done() {
			e.t.Fatalf("%s exited by itself (%v):\n%s", w.name, w.err, e.tail(w))
		}
	}
}

// tail is the end of a worker's log, tokens redacted.
func (e *env) tail(w *worker) string {
	b, _ := os.ReadFile(w.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return e.redact(b)
}

// children lists the processes a worker started (its plugin).
func (w *worker) children() []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", w.pid()))
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// waitFor polls cond until it holds; the deadline only stops a broken
// run from hanging, and says what never happened.
func (e *env) waitFor(limit time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		e.checkAlive()
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

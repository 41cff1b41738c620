package host_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/plugintest"
	"github.com/siphonhq/siphon/plugins/sdk"
)

var ctx = context.Background()

func records(object string, n int, fault func(i int) string) []sdk.Record {
	recs := make([]sdk.Record, n)
	for i := range recs {
		recs[i] = sdk.Record{
			Op: sdk.OpUpsert, Object: object, Key: fmt.Sprintf("k%03d", i),
			Version:     sdk.Version{Source: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Generation: 1, Seq: int64(i)},
			ContentHash: "h" + strconv.Itoa(i),
			Fields:      map[string]any{"name": "n" + strconv.Itoa(i)},
		}
		if fault != nil {
			if f := fault(i); f != "" {
				recs[i].Fields["fault"] = f
			}
		}
	}
	return recs
}

func countKeys(t *testing.T, d sdk.Destination, tenant, object string) int {
	t.Helper()
	n := 0
	after := ""
	for {
		page, err := d.Keys(ctx, sdk.KeysRequest{Tenant: tenant, Object: object, After: after, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return n
		}
		n += len(page)
		after = page[len(page)-1].Key
	}
}

// TestKitThroughPlugin runs the conformance kit against the example
// destination served as a real plugin process. SIPHON_KIT_RECORDS sets the
// scale case (`make bench` runs it at 1,000,000).
func TestKitThroughPlugin(t *testing.T) {
	t.Parallel()
	var opts []plugintest.Option
	if n, err := strconv.Atoi(os.Getenv("SIPHON_KIT_RECORDS")); err == nil {
		opts = append(opts, plugintest.WithRecords(n))
	}
	plugintest.Run(t, func(t testing.TB) sdk.Destination {
		d, err := host.Launch(ctx, pluginConfig("faulty"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, opts...)
}

// TestKeysAll streams every key across pages in byte-wise order.
func TestKeysAll(t *testing.T) {
	t.Parallel()
	d := launch(t, pluginConfig("faulty"))
	if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: records("users", 250, nil)}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	pages := 0
	err := d.KeysAll(ctx, "acme", "users", 100, func(page []sdk.KeyEntry) error {
		pages++
		for _, k := range page {
			keys = append(keys, k.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 250 || pages != 3 || keys[0] != "k000" || keys[249] != "k249" {
		t.Fatalf("%d keys in %d pages", len(keys), pages)
	}
}

// TestKeysAllIdleTimeout: a stream that goes quiet fails with an idle
// timeout instead of hanging the reconcile.
func TestKeysAllIdleTimeout(t *testing.T) {
	t.Parallel()
	cfg := pluginConfig("faulty")
	cfg.Timeouts.Idle = 300 * time.Millisecond
	d := launch(t, cfg)
	err := d.KeysAll(ctx, "hang", "users", 100, func([]sdk.KeyEntry) error { return nil })
	var te *host.TimeoutError
	if !errors.As(err, &te) || !te.Idle {
		t.Fatalf("KeysAll of a hung plugin: %v, want an idle timeout", err)
	}
	if err := d.Check(ctx, "acme"); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

// TestKillMidBatchLosesNothing kills the plugin with SIGKILL while it holds
// a batch; Write restarts it, retries the batch and every record lands.
func TestKillMidBatchLosesNothing(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "hung")
	cfg := pluginConfig("faulty", envHangOnce+"="+marker)
	cfg.Config = fileConfig(t)
	d := launch(t, cfg)

	type outcome struct {
		res []sdk.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := d.Write(ctx, sdk.Batch{Tenant: "hang-once", Records: records("users", 500, nil)})
		done <- outcome{res, err}
	}()
	var pid int
	waitFor(t, "the plugin to take the batch", func() bool {
		b, err := os.ReadFile(marker)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(string(b))
		return err == nil
	})
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got.err != nil {
		t.Fatalf("write after the plugin was killed: %v", got.err)
	}
	for i, r := range got.res {
		if r.Status != sdk.StatusOK {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if n := countKeys(t, d, "hang-once", "users"); n != 500 {
		t.Fatalf("after the retry %d of 500 records are held", n)
	}
	if d.Pid() == pid || d.Pid() == 0 {
		t.Fatalf("plugin pid %d after restart (killed %d)", d.Pid(), pid)
	}
}

// TestPoisonRecordCrashIsolated: a record that crashes the plugin every
// time gets a permanent result carrying the plugin's last words; the rest
// of the batch lands.
func TestPoisonRecordCrashIsolated(t *testing.T) {
	t.Parallel()
	cfg := pluginConfig("faulty")
	cfg.Config = fileConfig(t) // restarts must not lose what landed
	d := launch(t, cfg)
	res, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: records("users", 6, func(i int) string {
		if i == 4 {
			return "crash"
		}
		return ""
	})})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		switch {
		case i == 4 && r.Status != sdk.StatusPermanent:
			t.Errorf("poison record: %+v, want permanent", r)
		case i == 4 && !strings.Contains(r.Message, "crashing on purpose"):
			t.Errorf("poison record message lacks the plugin's stderr: %q", r.Message)
		case i != 4 && r.Status != sdk.StatusOK:
			t.Errorf("record %d: %+v", i, r)
		}
	}
	if n := countKeys(t, d, "acme", "users"); n != 5 {
		t.Fatalf("%d records held, want 5", n)
	}
}

// TestCrashOnEveryWriteFailsTheBatch: a plugin that crashes on every
// record, as one whose destination is down may, fails the batch as a whole
// (the breaker counts it) instead of blaming each record: once a record
// crashed it alone with none landing, the next part crashing ends the
// bisecting.
func TestCrashOnEveryWriteFailsTheBatch(t *testing.T) {
	t.Parallel()
	d := launch(t, pluginConfig("faulty"))
	crashAll := func(int) string { return "crash" }
	for i := 1; i <= 2; i++ {
		res, err := d.Write(ctx, sdk.Batch{Tenant: "crashing", Records: records("users", 4, crashAll)})
		var crash *host.CrashError
		if err == nil || !errors.As(err, &crash) || res != nil {
			t.Fatalf("write %d: %+v %v, want the batch failed by the crash", i, res, err)
		}
		if st := d.BreakerState("crashing"); st.Failures != i {
			t.Fatalf("write %d: breaker %+v, want %d failures", i, st, i)
		}
	}
}

// TestCrashAloneIsRetryable: a batch whose one record crashes the plugin,
// with nothing else landing, is not failed as a whole (a queue holding
// that record would wait for it forever): the record gets a retryable
// result, so it spends an attempt, and the breaker counts the write.
func TestCrashAloneIsRetryable(t *testing.T) {
	t.Parallel()
	d := launch(t, pluginConfig("faulty"))
	res, err := d.Write(ctx, sdk.Batch{Tenant: "solo", Records: records("users", 1, func(int) string { return "crash" })})
	if err != nil || len(res) != 1 || res[0].Status != sdk.StatusRetryable || !strings.Contains(res[0].Message, "crashing on purpose") {
		t.Fatalf("%+v %v, want the record retryable with the plugin's last words", res, err)
	}
	if st := d.BreakerState("solo"); st.Failures != 1 {
		t.Fatalf("breaker %+v, want 1 failure", st)
	}
}

// TestStatementErrorBisected: a batch the plugin fails as a whole with a
// permanent error is bisected down to the one bad record.
func TestStatementErrorBisected(t *testing.T) {
	t.Parallel()
	d := launch(t, pluginConfig("faulty"))
	res, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: records("users", 50, func(i int) string {
		if i == 7 {
			return "permanent"
		}
		return ""
	})})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if (i == 7) != (r.Status == sdk.StatusPermanent) {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	if !strings.Contains(res[7].Message, "statement failed on key k007") {
		t.Errorf("message %q", res[7].Message)
	}
	if n := countKeys(t, d, "acme", "users"); n != 49 {
		t.Fatalf("%d records held, want 49", n)
	}
}

// TestHungCallTimesOut: a call the plugin never answers fails with a
// timeout error, and the next call gets a fresh plugin.
func TestHungCallTimesOut(t *testing.T) {
	t.Parallel()
	cfg := pluginConfig("faulty")
	cfg.Timeouts.Call = 300 * time.Millisecond
	d := launch(t, cfg)
	err := d.Check(ctx, "hang")
	var te *host.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check of a hung plugin: %v, want a timeout error", err)
	}
	if err := d.Check(ctx, "acme"); err != nil {
		t.Fatalf("Check after the restart: %v", err)
	}
}

// TestBreakerPerTenant: repeated failures open the failing tenant's
// breaker only.
func TestBreakerPerTenant(t *testing.T) {
	t.Parallel()
	cfg := pluginConfig("faulty")
	cfg.Breaker = host.BreakerConfig{Failures: 2, Cooldown: time.Hour}
	d := launch(t, cfg)
	for i := range 2 {
		_, err := d.Write(ctx, sdk.Batch{Tenant: "down", Records: records("users", 1, nil)})
		if err == nil || !strings.Contains(err.Error(), "write down/users via test-faulty: destination is down") {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	_, err := d.Write(ctx, sdk.Batch{Tenant: "down", Records: records("users", 1, nil)})
	var open *host.BreakerOpenError
	if !errors.As(err, &open) {
		t.Fatalf("third write: %v, want the breaker open", err)
	}
	if !d.BreakerState("down").Open {
		t.Fatal("BreakerState does not report the open breaker")
	}
	if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: records("users", 1, nil)}); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
}

// TestOrphan kills the host with SIGKILL; its plugin must not survive it.
func TestOrphan(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envRole+"=host")
	line := readLine(t, cmd)
	pid, err := strconv.Atoi(line)
	if err != nil || pid <= 0 {
		t.Fatalf("host said %q", line)
	}
	if processGone(pid) {
		t.Fatalf("plugin %d is not running before the host is killed", pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, fmt.Sprintf("plugin %d to exit after its host was killed", pid), func() bool { return processGone(pid) })
}

// TestLaunchErrors covers the plugins that must be refused with a clear
// error.
func TestLaunchErrors(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, host.BinaryPrefix+"fake")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho not a plugin\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pinned := pluginConfig("faulty")
	pinned.SHA256 = strings.Repeat("ab", 32)
	cases := []struct {
		name string
		cfg  host.LaunchConfig
		want []string
	}{
		{"stdout before handshake", pluginConfig("stdout"), []string{"printed to stdout", "hello from a plugin that prints"}},
		{"not a plugin", pluginConfig("notplugin"), []string{"not a Siphon destination plugin", "usage: notplugin"}},
		{"not a plugin script", host.LaunchConfig{Name: "fake", Plugin: "fake", Dirs: []string{dir}}, []string{"not a Siphon destination plugin", "not a plugin"}},
		{"wrong protocol version", pluginConfig("v2"), []string{"protocol version", "Plugin version: 2"}},
		{"wrong checksum", pinned, []string{"refusing to launch", pinned.SHA256, sha256Of(t, exe)}},
		{"unknown plugin", host.LaunchConfig{Name: "dw", Plugin: "nosuch", Dirs: []string{dir}}, []string{`unknown destination plugin "nosuch"`, "fake (" + fake + ")", dir}},
		{"bad config", func() host.LaunchConfig {
			c := pluginConfig("faulty")
			c.Config = badConfig()
			return c
		}(), []string{"invalid config", "unsupported argument colour"}},
		{"missing working directory", func() host.LaunchConfig {
			c := pluginConfig("faulty")
			c.Dir = filepath.Join(dir, "nosuch")
			return c
		}(), []string{"working directory", filepath.Join(dir, "nosuch")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := host.Launch(ctx, c.cfg)
			if err == nil {
				d.Kill()
				t.Fatal("launched")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestConfigureKeepsUnknowns: values unknown at plan time reach the plugin
// as unknown, and warnings come back with their attribute path.
func TestConfigureKeepsUnknowns(t *testing.T) {
	t.Parallel()
	d := launch(t, pluginConfig("faulty"))
	diags := d.Configure(ctx, sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{"probe": cty.UnknownVal(cty.String)})})
	if diags.HasErrors() || len(diags) != 1 || diags[0].Summary != "probe is unknown" || diags[0].Path[0] != "probe" {
		t.Fatalf("%#v", diags)
	}
}

// TestPoisonDoesNotBlameNeighbours: batches in flight when a poison record
// crashes the plugin are retried, and none of their records is blamed.
func TestPoisonDoesNotBlameNeighbours(t *testing.T) {
	t.Parallel()
	cfg := pluginConfig("faulty")
	cfg.Config = fileConfig(t)
	d := launch(t, cfg)
	type outcome struct {
		tenant string
		res    []sdk.Result
		err    error
	}
	done := make(chan outcome, 4)
	for _, tenant := range []string{"poisoned", "good-1", "good-2", "good-3"} {
		go func() {
			res, err := d.Write(ctx, sdk.Batch{Tenant: tenant, Records: records("users", 8, func(i int) string {
				if tenant == "poisoned" && i == 5 {
					return "crash"
				}
				return ""
			})})
			done <- outcome{tenant, res, err}
		}()
	}
	for range 4 {
		o := <-done
		if o.err != nil {
			t.Fatalf("%s: %v", o.tenant, o.err)
		}
		for i, r := range o.res {
			if bad := o.tenant == "poisoned" && i == 5; bad != (r.Status == sdk.StatusPermanent) {
				t.Errorf("%s record %d: %+v", o.tenant, i, r)
			}
		}
	}
	for tenant, want := range map[string]int{"poisoned": 7, "good-1": 8, "good-2": 8, "good-3": 8} {
		if n := countKeys(t, d, tenant, "users"); n != want {
			t.Errorf("%s: %d records held, want %d", tenant, n, want)
		}
	}
}

// TestBuiltin launches a built-in destination by re-executing this binary,
// as siphon does with itself, and lists it.
func TestBuiltin(t *testing.T) {
	t.Parallel()
	d := launch(t, host.LaunchConfig{Name: "scratch", Plugin: "kit-memory", Logger: testLogger()})
	if d.Info().Name != "memory" {
		t.Fatalf("info %+v", d.Info())
	}
	if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: records("users", 3, nil)}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range host.List(nil) {
		found = found || (a.Name == "kit-memory" && a.Builtin)
	}
	if !found {
		t.Fatal("List lacks the built-in")
	}
}

// TestDir: the plugin runs in LaunchConfig.Dir, so a relative path in its
// config lands there, while a relative Path still names the executable
// from this process's working directory.
func TestDir(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, exe)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := pluginConfig("faulty")
	cfg.Path, cfg.Dir = rel, dir
	cfg.Config = cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("relative-changes.log")})
	d := launch(t, cfg)
	if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: records("users", 3, nil)}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "relative-changes.log")); err != nil || fi.Size() == 0 {
		t.Fatalf("the change log is not in Dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(wd, "relative-changes.log")); !os.IsNotExist(err) {
		t.Fatalf("the change log is in the host's working directory: %v", err)
	}
}

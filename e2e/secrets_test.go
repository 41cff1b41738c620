package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// TestSecretsNeverLeak runs a real sync of two tenants with debug logging
// and OpenTelemetry export, beside a second destination whose DSN holds a
// password and whose server is down (its driver's errors are logged), and
// a pipeline whose filter sends one record in ten to the DLQ. In the
// middle one tenant's token is rotated and the master key is rotated
// while the runner keeps running (it must go on opening credentials under
// the new key), then the other tenant's token is revoked (401s, an auth
// pause). Everything any process wrote is then searched for the tokens,
// every master key the key file ever held and the password, raw, base64
// and hex: the runner's log (which carries the plugins' stderr), every CLI
// command's output (status JSON, dead letters, checkpoints), the OTLP
// spans and metrics it exported, the Redis append-only file and the
// destination's database.
func TestSecretsNeverLeak(t *testing.T) {
	binaries(t)
	e := &env{t: t, size: size{tenants: 2, users: 120, churn: 30}, dir: testDir(t), epoch: time.Now(), revoked: map[string]bool{}}
	e.clk = clock.NewScaledSince(e.epoch, clockScale)
	e.redis = redistest.Start(t, "--appendfsync", "always")
	e.store = e.redis.URL()
	e.sim = e.startSim()
	e.cfg = filepath.Join(e.dir, "hub")
	e.writeConfig(true)
	password := "pw" + randomHex(t, 12)
	e.addDownDestination(password)

	var outputs []string // what the CLI printed
	cli := func(stdin io.Reader, args ...string) string {
		out := e.siphon(stdin, args...)
		outputs = append(outputs, out)
		return out
	}
	for _, id := range e.sim.tenants {
		cli(strings.NewReader(e.sim.tokens[id]+"\n"), "credentials", "set", id, "--config", e.cfg, "--store", e.store)
	}
	keyFile := filepath.Join(e.cfg, ".siphon", "master.key")
	keyTexts := []string{readText(t, keyFile)}

	otlp := newOTLPSink()
	defer otlp.Close()
	w := e.startDebugWorker(otlp.URL)
	st := e.openStore()
	defer st.Close()
	a, b := e.sim.tenants[0], e.sim.tenants[1]
	e.waitFor(time.Minute, "rows of both tenants in the destination", func() bool {
		rows, err := e.rows("")
		return err == nil && len(rows[a]) > 0 && len(rows[b]) > 0
	})

	cli(nil, "credentials", "rotate", a, "--config", e.cfg, "--store", e.store)
	out := cli(nil, "credentials", "rotate-master", "--config", e.cfg, "--store", e.store)
	if !strings.Contains(out, "re-wrapped 2 credentials") {
		t.Fatalf("rotate-master: %s", e.redact([]byte(out)))
	}
	keyTexts = append(keyTexts, readText(t, keyFile))
	// The runner started before the rotation keeps polling after it: each
	// tenant's cursor moves twice more, and the second move comes from a
	// walk that began after the rotation, so it opened the token under
	// the new key (which the runner found by reloading the key file).
	for _, id := range []string{a, b} {
		for moves, last := 0, e.cursor(st, id); moves < 2; {
			e.waitFor(time.Minute, id+"'s cursor to move after the master key rotation", func() bool {
				return e.cursor(st, id).After(last)
			})
			last = e.cursor(st, id)
			moves++
		}
	}
	if err := e.sim.call("POST", "tenants/"+b+"/revoke", "", nil); err != nil {
		t.Fatal(err)
	}
	e.revoked[b] = true
	e.waitFor(time.Minute, b+" paused by its 401s", func() bool { return len(e.authPauses(st, b)) > 0 })
	var letters []state.DeadLetter
	e.waitFor(time.Minute, "dead letters of the failing filter", func() bool {
		var err error
		letters, _, err = st.DeadLetterList(context.Background(), a, "", 10)
		return err == nil && len(letters) > 0
	})
	for _, args := range [][]string{
		{"status", "--json"},
		{"status", b},
		{"dlq", "list", a, "--json"},
		{"dlq", "show", a, letters[0].ID},
		{"checkpoint", "get", a, "--json"},
	} {
		cli(nil, append(args, "--config", e.cfg, "--store", e.store)...)
	}
	e.stop(w)

	// What was captured must hold what the run did, or finding no secret
	// in it would prove nothing.
	log := readText(t, w.logPath)
	if !strings.Contains(log, `"level":"DEBUG"`) {
		t.Error("the runner's log has no debug line: debug logging was not on")
	}
	if !strings.Contains(log, "401") {
		t.Error("the runner's log has no 401: the revoked token's error path was not exercised")
	}
	if !strings.Contains(log, "database=hub") {
		t.Error("the runner's log has no error of the postgres destination: the path that could leak its DSN was not exercised")
	}
	if otlp.requests() == 0 {
		t.Error("no OTLP export reached the sink")
	}
	if letters[0].Entry.LastError == "" {
		t.Error("the dead letter carries no error: the DLQ's error path was not exercised")
	}

	texts := map[string][]byte{"runner log (with plugin stderr)": []byte(log)}
	for i, o := range outputs {
		texts[fmt.Sprintf("CLI output %d", i+1)] = []byte(o)
	}
	for i, body := range otlp.bodies() {
		texts[fmt.Sprintf("OTLP export %d", i+1)] = body
	}
	for name, b := range filesUnder(t, e.redis.Dir, ".aof", ".rdb") {
		texts["redis "+name] = b
	}
	for name, b := range filesUnder(t, filepath.Join(e.cfg, "out"), ".db", ".db-wal") {
		texts["destination "+name] = b
	}
	var secrets []secret
	for id, tok := range e.sim.tokens {
		secrets = append(secrets, secret{"token of " + id, []byte(tok)})
	}
	secrets = append(secrets, secret{"destination password", []byte(password)})
	for _, kt := range keyTexts {
		for _, line := range strings.Split(kt, "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(line)
			if err != nil || len(raw) != 32 {
				t.Fatalf("the key file holds a line that is not a key")
			}
			secrets = append(secrets, secret{"master key", raw})
		}
	}
	if len(secrets) < 2+1+3 {
		t.Fatalf("%d secrets to look for; want the two tokens, the password and the three master keys (two before the rotation, one kept)", len(secrets))
	}
	for name, text := range texts {
		for _, s := range secrets {
			if enc := s.foundIn(text); enc != "" {
				t.Errorf("the %s appears (%s) in the %s", s.name, enc, name)
			}
		}
	}
	t.Logf("searched %d captures (%d bytes of runner log, %d OTLP exports) for %d secrets", len(texts), len(log), otlp.requests(), len(secrets))
}

// secret is something no output may hold.
type secret struct {
	name  string
	value []byte
}

// foundIn names the encoding in which the secret appears in text, or "".
func (s secret) foundIn(text []byte) string {
	for enc, form := range map[string]string{
		"raw":       string(s.value),
		"base64":    base64.StdEncoding.EncodeToString(s.value),
		"base64url": base64.RawURLEncoding.EncodeToString(s.value),
		"hex":       hex.EncodeToString(s.value),
		"HEX":       strings.ToUpper(hex.EncodeToString(s.value)),
	} {
		// Base64 of the same bytes differs with their offset in a longer
		// string; the encodings of the value alone are what a leak of
		// the value by itself looks like. A prefix of 16 characters of a
		// key's encoding is already a leak.
		if len(form) > 24 {
			form = form[:24]
		}
		if bytes.Contains(text, []byte(form)) {
			return enc
		}
	}
	return ""
}

// addDownDestination adds a postgres destination whose DSN holds the
// password and points at a port nobody listens on (its batches wait and
// its driver's errors are logged), and a pipeline into the working
// destination whose filter fails for one record in ten (those go to the
// DLQ with the error).
func (e *env) addDownDestination(password string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	src := fmt.Sprintf(`destination "mirror" {
  plugin = "postgres"
  config = { dsn = "postgres://siphon:%s@127.0.0.1:%d/hub?sslmode=disable" }
}

pipeline "mirrored" {
  resource    = resource.users
  destination = destination.mirror
  object      = "volunteers"
  fields = {
    email = record.email
  }
}

pipeline "picky" {
  resource    = resource.users
  destination = destination.db
  object      = "picky"
  filter      = tonumber(record.id) %% 10 == 0 ? null : true
  fields = {
    email = record.email
  }
}
`, password, port)
	var tenants strings.Builder
	for _, id := range e.sim.tenants {
		fmt.Fprintf(&tenants, "tenant %q {\n  pipelines   = [pipeline.volunteers, pipeline.mirrored, pipeline.picky]\n  backfill_at = \"now\"\n}\n", id)
	}
	for name, text := range map[string]string{"mirror.hcl": src, "tenants.hcl": tenants.String()} {
		if err := os.WriteFile(filepath.Join(e.cfg, name), []byte(text), 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
}

// startDebugWorker starts `siphon run` as startWorker does, with debug
// logging and OTLP export of spans and metrics to endpoint.
func (e *env) startDebugWorker(endpoint string) *worker {
	e.t.Helper()
	return e.startWorkerEnv(append(siphonEnv(), "SIPHON_LOG_LEVEL=debug", "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint,
		"OTEL_METRIC_EXPORT_INTERVAL=500", "OTEL_BSP_SCHEDULE_DELAY=200"))
}

// cursor is the tenant's volunteers cursor.
func (e *env) cursor(st state.Store, tenant string) time.Time {
	e.t.Helper()
	cp, err := st.Checkpoint(context.Background(), tenant, "volunteers")
	if err != nil {
		e.t.Fatal(err)
	}
	return cp.Cursor
}

// otlpSink is an OTLP/HTTP endpoint that keeps every body it receives.
type otlpSink struct {
	*httptest.Server
	mu   sync.Mutex
	seen [][]byte
}

func newOTLPSink() *otlpSink {
	s := &otlpSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, append([]byte(r.URL.Path+"\n"), b...))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	return s
}

func (s *otlpSink) bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.seen...)
}

func (s *otlpSink) requests() int { return len(s.bodies()) }

// filesUnder reads the files under dir whose names end in one of exts.
func filesUnder(t *testing.T, dir string, exts ...string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, ext := range exts {
			if strings.HasSuffix(path, ext) {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				out[filepath.Base(path)] = b
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %v files under %s", exts, dir)
	}
	return out
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

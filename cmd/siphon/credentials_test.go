package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/vomosim"
)

// credentials delete removes the stored token: the next run pauses that
// tenant for missing credentials and syncs the other, the deletion is
// audited, and the token appears in no output on the way.
func TestCredentialsDelete(t *testing.T) {
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users, sc.Churn.Enabled = 2, 10, false
	sim, err := vomosim.New(vomosim.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	ts := sim.Tenants()
	dir := twoTenantConfig(t, hs.URL+"/v1", ts[0].ID, ts[1].ID)
	var outputs []string
	for _, ti := range ts {
		withStdin(t, ti.Token+"\n", func() {
			code, out, errOut := siphon(t, "credentials", "set", ti.ID, "--config", dir)
			if code != 0 {
				t.Fatalf("credentials set %s: %d %s %s", ti.ID, code, out, errOut)
			}
			outputs = append(outputs, out, errOut)
		})
	}

	code, out, errOut := siphon(t, "credentials", "delete", ts[0].ID, "--config", dir)
	outputs = append(outputs, out, errOut)
	if code != 0 || !strings.Contains(out, "deleted the token of "+ts[0].ID) {
		t.Fatalf("credentials delete: %d %s %s", code, out, errOut)
	}
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		if _, err := st.Credential(ctx, ts[0].ID); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("credential of %s after delete: %v, want not found", ts[0].ID, err)
		}
		if _, err := st.Credential(ctx, ts[1].ID); err != nil {
			t.Errorf("credential of %s, which was not deleted: %v", ts[1].ID, err)
		}
		entries, _, err := st.Audit(ctx, ts[0].ID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 || entries[len(entries)-1].Action != "credentials delete" {
			t.Errorf("audit of %s: %+v, want the deletion last", ts[0].ID, entries)
		}
	})

	code, out, errOut = siphon(t, "run", "--once", dir)
	outputs = append(outputs, out, errOut)
	if code != 1 || !strings.Contains(out, "failed jobs 1") {
		t.Fatalf("run --once after delete: %d %s %s", code, out, errOut)
	}
	code, out, errOut = siphon(t, "status", "--config", dir, "--json")
	outputs = append(outputs, out, errOut)
	if code != 0 {
		t.Fatalf("status: %d %s", code, errOut)
	}
	var st []tenantStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if len(st) != 2 || st[0].Tenant != ts[0].ID || st[0].Paused != "no credentials: run siphon credentials set "+ts[0].ID ||
		st[1].Paused != "" {
		t.Fatalf("status after delete: %s", out)
	}

	// Bad input: a clear error naming what is wrong, and nothing deleted.
	code, _, errOut = siphon(t, "credentials", "delete", "nobody", "--config", dir)
	if code != 1 || !strings.Contains(errOut, `no tenant "nobody"`) {
		t.Errorf("delete of an unknown tenant: %d %s", code, errOut)
	}
	code, _, errOut = siphon(t, "credentials", "delete", "--config", dir)
	if code != 1 || !strings.Contains(errOut, "takes one TENANT") {
		t.Errorf("delete without a tenant: %d %s", code, errOut)
	}

	for _, o := range outputs {
		for _, ti := range ts {
			if strings.Contains(o, ti.Token) {
				t.Fatalf("the token of %s was printed", ti.ID)
			}
		}
	}
}

// readToken takes the first line of stdin, trimmed, in pieces as a pipe
// delivers it, and says what is wrong with what it cannot use.
func TestReadToken(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{"tok-1\n", "tok-1", ""},
		{"  tok-2 \r\nsecond line\n", "tok-2", ""},
		{"tok-3", "tok-3", ""},
		{"\n", "", "no token on stdin"},
		{"", "", "no token on stdin"},
		{strings.Repeat("x", maxToken) + "\n", "", "longer than"},
	} {
		got, err := readToken(iotest.HalfReader(strings.NewReader(c.in)))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "xxxx") {
				t.Errorf("readToken(%.20q): %q, %v; want an error saying %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("readToken(%.20q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

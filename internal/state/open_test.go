package state

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

func TestParseStoreURL(t *testing.T) {
	cases := []struct{ raw, scheme, path string }{
		{"/var/lib/siphon/state.db", "file", "/var/lib/siphon/state.db"},
		{"state.db", "file", "state.db"},
		{"file:state.db", "file", "state.db"},
		{"file:///var/lib/siphon/state.db", "file", "/var/lib/siphon/state.db"},
		{"redis://:secret@10.0.0.1:6379/0", "redis", ""},
		{"redis+cluster://10.0.0.1:7000,10.0.0.2:7000", "redis+cluster", ""},
	}
	for _, c := range cases {
		scheme, u, err := parseStoreURL(c.raw)
		if err != nil || scheme != c.scheme {
			t.Fatalf("%s: %s %v", c.raw, scheme, err)
		}
		if c.path != "" && LocalPath(u) != c.path {
			t.Fatalf("%s: path %q", c.raw, LocalPath(u))
		}
	}
}

func TestOpenUnknownSchemeHidesPassword(t *testing.T) {
	_, err := Open(context.Background(), "memcached://:hunter2@host:1", Options{})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "no backend") {
		t.Fatalf("open: %v", err)
	}
}

func TestRedactKeepsHost(t *testing.T) {
	u, _ := url.Parse("rediss://user:pw@example.com:6380")
	if r := redact(u); strings.Contains(r, "pw") || !strings.Contains(r, "example.com") {
		t.Fatal(r)
	}
}

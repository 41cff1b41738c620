package main

import (
	"strings"
	"testing"
)

// The clock and lease flags exist for the end-to-end tests: they are
// hidden from help, and a bad value is refused with what is wrong.
func TestRunTestingFlags(t *testing.T) {
	dir := twoTenantConfig(t, "http://127.0.0.1:1/v1", "a", "b")
	code, out, errOut := siphon(t, "run", "--help")
	if code != 0 || strings.Contains(out+errOut, "clock-scale") || strings.Contains(out+errOut, "lease-ttl") {
		t.Errorf("run --help: exit %d, shows a testing flag:\n%s%s", code, out, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--clock-scale", "0"}, "--clock-scale must be positive, got 0"},
		{[]string{"--clock-scale", "20", "--clock-epoch", "yesterday"}, "clock-epoch"},
		{[]string{"--lease-ttl", "soon"}, "lease-ttl"},
	} {
		code, out, errOut := siphon(t, append(append([]string{"run", "--once"}, c.args...), dir)...)
		if code == 0 || !strings.Contains(out+errOut, c.want) {
			t.Errorf("run %v: exit %d, want an error naming %q:\n%s%s", c.args, code, c.want, out, errOut)
		}
	}
}

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// fixedNow makes plan output stable: next runs and reconciles follow it.
const fixedNow = "--now=2026-11-26T09:00:00Z"

const demoDir = "../../pipelines/demo"

func TestPlanGolden(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"plan-demo.txt", []string{"plan", fixedNow, demoDir}, 0},
		{"plan-demo.json", []string{"plan", "-json", fixedNow, demoDir}, 0},
		{"plan-invalid.txt", []string{"plan", fixedNow, "testdata/invalid"}, 1},
		{"plan-invalid.json", []string{"plan", "-json", fixedNow, "testdata/invalid"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := siphon(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.wantCode, errOut)
			}
			if errOut != "" {
				t.Errorf("stderr %q, want nothing: the view says everything", errOut)
			}
			if strings.HasSuffix(tt.name, ".json") && !json.Valid([]byte(out)) {
				t.Errorf("not JSON:\n%s", out)
			}
			golden(t, tt.name, out)
		})
	}
}

func TestPlanVars(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vars.hcl": "vomo_url = \"http://from-file.test/v1\"\n"})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"default", nil, "vomo at http://127.0.0.1:8089/v1;"},
		{"-var", []string{"-var", "vomo_url=http://a.test/v1?x=1,2"}, "vomo at http://a.test/v1?x=1,2;"},
		{"last -var wins", []string{"-var", "vomo_url=http://a.test/v1", "-var", "vomo_url=http://b.test/v1"}, "vomo at http://b.test/v1;"},
		{"-var-file", []string{"-var-file", filepath.Join(dir, "vars.hcl")}, "vomo at http://from-file.test/v1;"},
		{"-var beats -var-file", []string{"-var-file", filepath.Join(dir, "vars.hcl"), "-var", "vomo_url=http://c.test/v1"}, "vomo at http://c.test/v1;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"plan", fixedNow}, tt.args...), demoDir)
			code, out, errOut := siphon(t, args...)
			if code != 0 || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, stderr %q; output lacks %q", code, errOut, tt.want)
			}
		})
	}
}

func TestPlanConfigDir(t *testing.T) {
	if code, out, _ := siphon(t, "plan", fixedNow, "--config", demoDir); code != 0 || !strings.Contains(out, "Plan of "+demoDir) {
		t.Errorf("--config: exit %d", code)
	}
	t.Setenv("SIPHON_CONFIG", demoDir)
	if code, out, _ := siphon(t, "plan", fixedNow); code != 0 || !strings.Contains(out, "Plan of "+demoDir) {
		t.Errorf("SIPHON_CONFIG: exit %d", code)
	}
}

func TestPlanUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"detailed exit code", []string{"plan", "--detailed-exitcode", demoDir}, "--detailed-exitcode reports whether the plan differs from what a store last ran: give that store with --store URL"},
		{"bad --now", []string{"plan", "--now", "yesterday", demoDir}, `invalid --now "yesterday": write an RFC 3339 time`},
		{"bad -var", []string{"plan", "-var", "vomo_url", demoDir}, "write NAME=VALUE"},
		{"two directories", []string{"plan", demoDir, "testdata/invalid"}, "plan takes one configuration directory, not 2 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := siphon(t, tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, tt.want)
			}
		})
	}
}

func TestPlanMissingDirectory(t *testing.T) {
	code, out, _ := siphon(t, "plan", filepath.Join(t.TempDir(), "nope"))
	if code != 1 || !strings.Contains(out, "Cannot read the configuration directory") || !strings.Contains(out, "Plan: invalid configuration; 1 error, 0 warnings.") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

package main

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestFlagsFirst(t *testing.T) {
	cmds := []*cli.Command{
		{Name: "credentials", Subcommands: []*cli.Command{
			{Name: "set", Flags: []cli.Flag{&cli.StringFlag{Name: "config"}, &cli.BoolFlag{Name: "json"}}},
		}},
		{Name: "plan", Flags: []cli.Flag{&cli.BoolFlag{Name: "json"}, &cli.StringFlag{Name: "now"}}},
		{Name: "dev", SkipFlagParsing: true},
	}
	tests := []struct {
		in, want []string
	}{
		{[]string{"siphon", "credentials", "set", "acme", "--config", "dir"}, []string{"siphon", "credentials", "set", "--config", "dir", "acme"}},
		{[]string{"siphon", "credentials", "set", "acme", "--config=dir", "--json"}, []string{"siphon", "credentials", "set", "--config=dir", "--json", "acme"}},
		{[]string{"siphon", "plan", "dir", "-json", "--now", "2026-11-26T09:00:00Z"}, []string{"siphon", "plan", "-json", "--now", "2026-11-26T09:00:00Z", "dir"}},
		// a boolean flag takes no value: the directory after it stays positional
		{[]string{"siphon", "plan", "--json", "dir"}, []string{"siphon", "plan", "--json", "dir"}},
		// everything after -- is positional
		{[]string{"siphon", "plan", "--", "-weird-dir", "--json"}, []string{"siphon", "plan", "--", "-weird-dir", "--json"}},
		// commands that parse their own arguments, unknown commands and bare invocations are untouched
		{[]string{"siphon", "dev", "vomosim", "--addr", "x"}, []string{"siphon", "dev", "vomosim", "--addr", "x"}},
		{[]string{"siphon", "nosuch", "a", "--b"}, []string{"siphon", "nosuch", "a", "--b"}},
		{[]string{"siphon"}, []string{"siphon"}},
		// a value flag at the very end keeps its place for cli to report
		{[]string{"siphon", "plan", "dir", "--now"}, []string{"siphon", "plan", "--now", "dir"}},
	}
	for _, tt := range tests {
		if got := flagsFirst(cmds, tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("flagsFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

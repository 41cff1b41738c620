package sdk

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestConfigHelpers(t *testing.T) {
	cfg := Config{Value: cty.ObjectVal(map[string]cty.Value{
		"dir":   cty.StringVal("/tmp/x"),
		"n":     cty.NumberIntVal(3),
		"later": cty.UnknownVal(cty.String),
		"bad":   cty.ListValEmpty(cty.String),
	})}
	var diags Diagnostics
	if got := cfg.String("dir", &diags); got != "/tmp/x" {
		t.Errorf("dir = %q", got)
	}
	if got := cfg.Int("n", &diags); got != 3 {
		t.Errorf("n = %d", got)
	}
	if got := cfg.String("later", &diags); got != "" || cfg.Known("later") {
		t.Errorf("unknown later read as %q, known %v", got, cfg.Known("later"))
	}
	if !cfg.Known("absent") {
		t.Error("an absent attribute should be known")
	}
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %v", diags.Err())
	}
	cfg.Bool("bad", &diags)
	if len(diags) != 1 || diags[0].Path[0] != "bad" {
		t.Fatalf("diags = %#v", diags)
	}
	un := cfg.Unexpected("dir", "n", "later")
	if len(un) != 1 || un[0].Path[0] != "bad" {
		t.Fatalf("Unexpected = %#v", un)
	}
}

func TestConfigNil(t *testing.T) {
	var diags Diagnostics
	if got := (Config{}).String("x", &diags); got != "" || diags != nil {
		t.Fatalf("nil config read %q %v", got, diags)
	}
}

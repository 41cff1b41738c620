package hubgen

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

var tenantBlock = regexp.MustCompile(`(?m)^tenant "`)

func TestGenerate(t *testing.T) {
	files := Generate(2500)
	want := []string{"hub.hcl", "tenants-000.hcl", "tenants-001.hcl", "tenants-002.hcl"}
	if len(files) != len(want) {
		t.Fatalf("got %d files, want %v", len(files), want)
	}
	tenants := 0
	for _, name := range want {
		src, ok := files[name]
		if !ok {
			t.Fatalf("missing %s", name)
		}
		if _, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
			t.Errorf("%s does not parse: %s", name, diags)
		}
		if !bytes.Equal(hclwrite.Format(src), src) {
			t.Errorf("%s is not in canonical format", name)
		}
		tenants += len(tenantBlock.FindAll(src, -1))
	}
	if tenants != 2500 {
		t.Errorf("generated %d tenant blocks, want 2500", tenants)
	}
	if !bytes.Equal(Generate(2500)["tenants-001.hcl"], files["tenants-001.hcl"]) {
		t.Error("Generate is not deterministic")
	}
	if !strings.Contains(string(files["tenants-002.hcl"]), fmt.Sprintf("tenant \"t%05d\"", 2499)) {
		t.Error("the last tenant is not t02499")
	}
}

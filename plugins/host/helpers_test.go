package host_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func sha256Of(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func badConfig() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"colour": cty.StringVal("blue")})
}

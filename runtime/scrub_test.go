package runtime

import (
	"errors"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/sdk"
)

func TestScrubberHidesDestinationSecrets(t *testing.T) {
	dest := &dsl.Destination{Name: "crm", ConfigView: map[string]dsl.Value{
		"token": {Text: "tok-3f9a1c77", Known: true, Sensitive: true},
		"dsn":   {Text: "postgres://app:pa%20ss@db:5432/crm", Known: true},
		"table": {Text: "people", Known: true},
		"short": {Text: "x1", Known: true, Sensitive: true},
	}}
	sc := newScrubber(dest)

	breaker := &host.BreakerOpenError{}
	err := sc.err(errors.Join(breaker, errors.New(`connect postgres://app:pa%20ss@db:5432/crm failed; auth tok-3f9a1c77 refused`)))
	msg := err.Error()
	for _, secret := range []string{"tok-3f9a1c77", "pa ss", "pa%20ss"} {
		if strings.Contains(msg, secret) {
			t.Errorf("message still holds %q: %s", secret, msg)
		}
	}
	if !strings.Contains(msg, "<redacted>") || !strings.Contains(msg, "db:5432/crm") {
		t.Errorf("message lost its non-secret parts: %s", msg)
	}
	var open *host.BreakerOpenError
	if !errors.As(err, &open) {
		t.Error("errors.As no longer finds the wrapped breaker error")
	}

	rs := sc.results([]sdk.Result{{Status: sdk.StatusRetryable, Message: "bad token tok-3f9a1c77 for people"}})
	if got := rs[0].Message; got != "bad token <redacted> for people" {
		t.Errorf("result message %q", got)
	}
	// Too short to be worth hiding, and not secret: left alone.
	if got := sc.text("x1 people"); got != "x1 people" {
		t.Errorf("text %q", got)
	}
	plain := errors.New("nothing secret here")
	if sc.err(plain) != plain {
		t.Error("an error without secrets should pass through unchanged")
	}
	if newScrubber(&dsl.Destination{}).err(plain) != plain {
		t.Error("a destination without secrets should not wrap errors")
	}
}

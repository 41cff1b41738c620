package layout

import (
	"fmt"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// ConflictMessage explains a failed compare-and-set: what was expected and
// what the destination holds.
func ConflictMessage(h sdk.Held, e sdk.Expect) string {
	return fmt.Sprintf("expected %s, found %s", describeExpect(e), describeHeld(h))
}

func describeExpect(e sdk.Expect) string {
	switch e.Kind {
	case sdk.ExpectAbsent:
		return "nothing held"
	case sdk.ExpectVersion:
		return "a row at " + FormatTime(e.Version.Source)
	case sdk.ExpectTombstone:
		return "a tombstone at " + FormatTime(e.Version.Source)
	}
	return fmt.Sprintf("unknown expectation %d", e.Kind)
}

func describeHeld(h sdk.Held) string {
	switch {
	case !h.Exists:
		return "nothing held"
	case h.Tombstone:
		return "a tombstone at " + FormatTime(h.Version.Source)
	}
	return "a row at " + FormatTime(h.Version.Source)
}

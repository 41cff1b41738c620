package sdk

// Held is what a destination holds for a key before a write.
type Held struct {
	Exists      bool // a live row or a tombstone
	Tombstone   bool
	Version     Version
	ContentHash string
}

// Decision is what a destination does with one record.
type Decision int

// The decisions.
const (
	Apply    Decision = iota // write it (upsert or delete + tombstone)
	Skip                     // stale or identical: report StatusOK, Skipped
	Conflict                 // a compare-and-set expectation did not hold
)

// Decide applies Siphon's version rule, which every destination must follow
// so that redelivery, reordering, retries with an old mapping and late
// upserts after a delete all leave the destination exact:
//
//   - a compare-and-set write (Expect set) applies exactly when the held
//     state matches, whatever the versions;
//   - an upsert over a tombstone applies only when its source version is
//     newer than the tombstone's (a delete cannot be undone by a late older
//     upsert);
//   - an upsert applies when its source version is newer, or equal with a
//     different content hash and a later (generation, seq) — so mapping
//     changes land and an old-mapping retry cannot undo them;
//   - a delete applies when its source version is at or after the held one.
func Decide(held Held, rec Record) Decision {
	if rec.Expect != nil {
		if expectationHolds(held, *rec.Expect) {
			return Apply
		}
		return Conflict
	}
	if !held.Exists {
		return Apply
	}
	src := rec.Version.Source
	heldSrc := held.Version.Source
	if rec.Op == OpDelete {
		if held.Tombstone && !src.After(heldSrc) {
			return Skip
		}
		if src.Before(heldSrc) {
			return Skip
		}
		return Apply
	}
	switch {
	case held.Tombstone:
		if src.After(heldSrc) {
			return Apply
		}
		return Skip
	case src.After(heldSrc):
		return Apply
	case src.Before(heldSrc):
		return Skip
	case rec.ContentHash == held.ContentHash:
		return Skip
	case rec.Version.Compare(held.Version) > 0:
		return Apply
	default:
		return Skip
	}
}

func expectationHolds(held Held, e Expect) bool {
	switch e.Kind {
	case ExpectAbsent:
		return !held.Exists
	case ExpectVersion:
		return held.Exists && !held.Tombstone && held.Version.Source.Equal(e.Version.Source)
	case ExpectTombstone:
		return held.Exists && held.Tombstone && held.Version.Source.Equal(e.Version.Source)
	}
	return false
}

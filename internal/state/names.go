package state

import (
	"fmt"
	"strings"
)

// CheckName refuses names that would break key layout: a tenant sits inside
// a Redis Cluster hash tag ({tenant}), and '|' joins index members.
func CheckName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	if strings.ContainsAny(s, "{}|\x00\n\r\t ") {
		return fmt.Errorf("%w: %s %q contains one of '{', '}', '|' or whitespace", ErrInvalid, what, s)
	}
	return nil
}

// Member joins two names into an index member ("tenant|job").
func Member(a, b string) string { return a + "|" + b }

// SplitMember is the inverse of Member.
func SplitMember(m string) (a, b string, ok bool) {
	return strings.Cut(m, "|")
}

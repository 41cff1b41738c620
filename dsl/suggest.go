package dsl

import (
	"fmt"
	"sort"

	"github.com/agext/levenshtein"
)

// suggest returns the candidate closest to a misspelled name, or "" when
// none is close enough to be a likely typo (the threshold Terraform and
// HCL use: an edit distance below 3).
func suggest(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean is suggest as a sentence to append to a diagnostic's detail,
// or "" when there is no suggestion.
func didYouMean(given string, candidates []string) string {
	if s := suggest(given, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

// sortedKeys returns a map's keys in order, for suggestions and stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

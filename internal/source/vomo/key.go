package vomo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// KeyOf returns the canonical text of a record's primary key: the text of
// each part, escaped, joined by '/'. It is the one key used everywhere
// (writes, Keys, tombstones, the DLQ, idempotency keys, de-duplication).
//
// Escaping: '%' becomes "%25" and '/' becomes "%2F" in every part, so the
// joined text splits back unambiguously (SplitKey) and a single-part key
// without those characters is its plain text ("42", "a@example.org").
// Numbers are written as integers when they are whole ("42", never "42.0"
// or "4.2e1"); strings as they are; booleans as "true"/"false". A missing
// or null part, an empty string, an object or a list is an error.
func KeyOf(record map[string]any, primaryKey []string) (string, error) {
	return keyOf(primaryKey, func(i int) (any, bool, error) {
		v, ok := record[primaryKey[i]]
		return v, ok, nil
	})
}

// keyOf is KeyOf over a lookup of the i-th primary key field's value.
func keyOf(primaryKey []string, field func(i int) (v any, ok bool, err error)) (string, error) {
	if len(primaryKey) == 0 {
		return "", errors.New("key: no primary key fields")
	}
	var b strings.Builder
	for i, f := range primaryKey {
		v, ok, err := field(i)
		if err != nil {
			return "", fmt.Errorf("key: field %q: %w", f, err)
		}
		p, err := keyPart(v, ok, f)
		if err != nil {
			return "", err
		}
		if len(primaryKey) == 1 {
			return escapeKeyPart(p), nil
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(escapeKeyPart(p))
	}
	return b.String(), nil
}

// JoinKey joins already-textual key parts into the canonical key.
func JoinKey(parts ...string) string {
	esc := make([]string, len(parts))
	for i, p := range parts {
		esc[i] = escapeKeyPart(p)
	}
	return strings.Join(esc, "/")
}

// SplitKey is the inverse of JoinKey and KeyOf: the unescaped parts.
func SplitKey(key string) ([]string, error) {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		u, err := unescapeKeyPart(p)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		parts[i] = u
	}
	return parts, nil
}

func keyPart(v any, ok bool, field string) (string, error) {
	if !ok || v == nil {
		return "", fmt.Errorf("key: field %q is missing or null", field)
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = canonicalNumber(string(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			s = strconv.FormatInt(int64(x), 10)
		} else {
			s = strconv.FormatFloat(x, 'g', -1, 64)
		}
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case bool:
		s = strconv.FormatBool(x)
	default:
		return "", fmt.Errorf("key: field %q is a %T, not a scalar", field, v)
	}
	if s == "" {
		return "", fmt.Errorf("key: field %q is empty", field)
	}
	return s, nil
}

// canonicalNumber writes a JSON number's text as an integer when it is a
// whole number (1.0, 1e3), and otherwise keeps the text as sent.
func canonicalNumber(s string) string {
	if isPlainInt(s) {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return s
}

func isPlainInt(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == '-' {
		i = 1
		if len(s) == 1 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func escapeKeyPart(s string) string {
	if !strings.ContainsAny(s, "%/") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			b.WriteString("%25")
		case '/':
			b.WriteString("%2F")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func unescapeKeyPart(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "%25"):
			b.WriteByte('%')
		case strings.HasPrefix(s[i:], "%2F"):
			b.WriteByte('/')
		default:
			return "", fmt.Errorf("bad escape at byte %d", i)
		}
		i += 2
	}
	return b.String(), nil
}

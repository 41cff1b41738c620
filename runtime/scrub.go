package runtime

import (
	"net/url"
	"slices"
	"strings"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// minSecret is the shortest secret scrubbed from plugin messages; shorter
// strings ("1", "db") would garble messages without protecting anything.
const minSecret = 4

// scrubber hides a destination's secrets in what its plugin says. A plugin
// may echo its configuration in an error (a DSN in a connection failure),
// and those messages travel on to logs, spans, DLQ entries and `siphon
// status`, none of which may hold a secret.
type scrubber struct{ r *strings.Replacer }

// newScrubber collects the destination's sensitive config values, and the
// password of any URL in its config (a DSN written inline is still a
// secret even when the value as a whole is not marked sensitive).
func newScrubber(dest *dsl.Destination) *scrubber {
	var secrets []string
	add := func(s string) {
		if len(s) >= minSecret && !slices.Contains(secrets, s) {
			secrets = append(secrets, s)
		}
	}
	for _, v := range dest.ConfigView {
		if !v.Known {
			continue
		}
		if v.Sensitive {
			add(v.Text)
		}
		if u, err := url.Parse(v.Text); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				add(pw)
				// and as written in the URL, escaped
				_, escaped, _ := strings.Cut(u.User.String(), ":")
				add(escaped)
				add(url.QueryEscape(pw))
			}
		}
	}
	if len(secrets) == 0 {
		return &scrubber{}
	}
	// Longest first, so a secret that contains another is hidden whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, "<redacted>")
	}
	return &scrubber{r: strings.NewReplacer(pairs...)}
}

func (s *scrubber) text(msg string) string {
	if s.r == nil {
		return msg
	}
	return s.r.Replace(msg)
}

// err hides secrets in err's message; errors.Is and errors.As still see
// the original.
func (s *scrubber) err(err error) error {
	if err == nil || s.r == nil {
		return err
	}
	msg := s.r.Replace(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

func (s *scrubber) results(rs []sdk.Result) []sdk.Result {
	if s.r == nil {
		return rs
	}
	for i := range rs {
		rs[i].Message = s.r.Replace(rs[i].Message)
	}
	return rs
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// Package pgserver gives tests outside plugins/destinations (the runtime's
// end-to-end benchmarks) the throwaway PostgreSQL the destination tests
// use: its starter is internal to plugins/destinations, and a second copy
// of it would drift.
package pgserver

import (
	"context"
	"errors"
	"testing"

	"github.com/siphonhq/siphon/plugins/destinations/internal/pgtest"
)

// Start starts a server with database db on a free port, stops it when tb
// ends and returns the database's DSN. A machine without PostgreSQL skips
// tb with the reason (`make deps` installs it).
func Start(tb testing.TB, db string) string {
	tb.Helper()
	s, dsn, err := pgtest.StartDatabase(context.Background(), db)
	if errors.Is(err, pgtest.ErrNotInstalled) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return dsn
}

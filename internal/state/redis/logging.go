package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// slogAdapter sends go-redis's own messages (failed dials during an outage,
// pool warnings) to slog at debug level instead of go-redis's default
// logger, which writes unstructured lines to stderr beside siphon's JSON
// logs. Every such failure also reaches the caller as an error, which the
// runtime logs with the tenant and job it concerns.
type slogAdapter struct{}

func (slogAdapter) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

func init() { goredis.SetLogger(slogAdapter{}) }

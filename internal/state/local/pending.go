package local

// Placeholders until the budget and note implementations land; the
// conformance suite fails on them.

import (
	"context"
	"errors"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

var errPending = errors.New("not implemented yet")

func (s *Store) Take(context.Context, state.TakeRequest) (state.TakeResult, error) {
	return state.TakeResult{}, errPending
}
func (s *Store) DrainBudget(context.Context, string, string, time.Duration) error { return errPending }
func (s *Store) SetThrottle(context.Context, float64) error                       { return errPending }
func (s *Store) Throttle(context.Context) (float64, error)                        { return 1, errPending }
func (s *Store) PutNote(context.Context, string, string, []byte) error            { return errPending }
func (s *Store) Note(context.Context, string, string) ([]byte, error)             { return nil, errPending }
func (s *Store) DeleteNote(context.Context, string, string) error                 { return errPending }
func (s *Store) PurgeTenant(context.Context, string) (int, error)                 { return 0, errPending }

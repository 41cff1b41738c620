package sock

// Placeholders until the budget and note implementations land; the
// conformance suite fails on them.

import (
	"context"
	"errors"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

var errPending = errors.New("not implemented yet")

func (s *Client) Take(context.Context, state.TakeRequest) (state.TakeResult, error) {
	return state.TakeResult{}, errPending
}
func (s *Client) DrainBudget(context.Context, string, string, time.Duration) error { return errPending }
func (s *Client) SetThrottle(context.Context, float64) error                       { return errPending }
func (s *Client) Throttle(context.Context) (float64, error)                        { return 1, errPending }
func (s *Client) PutNote(context.Context, string, string, []byte) error            { return errPending }
func (s *Client) Note(context.Context, string, string) ([]byte, error)             { return nil, errPending }
func (s *Client) DeleteNote(context.Context, string, string) error                 { return errPending }
func (s *Client) PurgeTenant(context.Context, string) (int, error)                 { return 0, errPending }

package sock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// answerWait bounds Dial's first call: a holder that accepts connections but
// does not answer (hung, or stopped in a debugger) must not hang the
// operator's command.
const answerWait = 5 * time.Second

// Client is a Store served by another process on a unix socket.
type Client struct {
	path  string
	http  *http.Client
	trips *state.Trips
}

var _ state.Store = (*Client)(nil)

// Dial connects to the store served on the unix socket at path and checks
// that it answers within a few seconds. trips, when set, counts one round
// trip per call.
func Dial(ctx context.Context, path string, trips *state.Trips) (*Client, error) {
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("store socket %s: %w", path, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("store socket %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return nil, fmt.Errorf("store socket %s: not a socket", path)
	}
	if err := checkOwner(path, fi); err != nil {
		return nil, fmt.Errorf("store socket %s: %w", path, err)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		// Workers of one process call concurrently; keep their connections.
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	c := &Client{path: path, http: &http.Client{Transport: tr}, trips: trips}
	probe, cancel := context.WithTimeout(ctx, answerWait)
	defer cancel()
	if _, err := c.Info(probe); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return c, nil
}

// checkDir refuses a socket in a directory another user owns: whoever owns
// the directory can put their own socket there.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	return checkOwner(dir, fi)
}

// Close drops the client's idle connections; the store stays open in the
// process that serves it.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// post sends one call and returns its response, or the call's error.
func (c *Client) post(ctx context.Context, method string, args any) (*http.Response, error) {
	body, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("store socket %s: %s: %w", c.path, method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://store"+apiPrefix+method, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("store socket %s: %s: %w", c.path, method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	c.trips.Add()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, method, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, fmt.Errorf("store socket %s: the serving process does not know %s (is it an older siphon?)", c.path, method)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var w wireError
		if err := json.NewDecoder(resp.Body).Decode(&w); err != nil || w.Message == "" {
			return nil, fmt.Errorf("store socket %s: %s: server answered %s", c.path, method, resp.Status)
		}
		return nil, w.err()
	}
	return resp, nil
}

// transportError names the socket and keeps the context's error, so a
// cancelled call is errors.Is(err, context.Canceled).
func (c *Client) transportError(ctx context.Context, method string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("store socket %s: %s: %w", c.path, method, ctxErr)
	}
	return fmt.Errorf("store socket %s: %s: %w", c.path, method, err)
}

// call makes one call and decodes its result, which the store may return
// along with an error.
func call[R any](ctx context.Context, c *Client, method string, args any) (R, error) {
	var r reply[R]
	resp, err := c.post(ctx, method, args)
	if err != nil {
		return r.Result, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		var zero R
		return zero, c.transportError(ctx, method, fmt.Errorf("reading the result: %w", err))
	}
	if r.Error != nil {
		return r.Result, r.Error.err()
	}
	return r.Result, nil
}

// do makes a call that returns only an error.
func do(ctx context.Context, c *Client, method string, args any) error {
	_, err := call[none](ctx, c, method, args)
	return err
}

func (c *Client) Info(ctx context.Context) (state.Info, error) {
	return call[state.Info](ctx, c, "Info", none{})
}

func (c *Client) Acquire(ctx context.Context, req state.AcquireRequest) (state.Lease, bool, error) {
	r, err := call[acquireReply](ctx, c, "Acquire", req)
	return r.Lease, r.Granted, err
}

func (c *Client) Renew(ctx context.Context, l state.Lease, ttl time.Duration) (state.Lease, error) {
	return call[state.Lease](ctx, c, "Renew", renewArgs{Lease: l, TTL: ttl})
}

func (c *Client) Release(ctx context.Context, l state.Lease) error {
	return do(ctx, c, "Release", l)
}

func (c *Client) ScheduleJob(ctx context.Context, tenant, job string, due time.Time, replace bool) (time.Time, error) {
	return call[time.Time](ctx, c, "ScheduleJob", scheduleArgs{Tenant: tenant, Job: job, Due: due, Replace: replace})
}

func (c *Client) UnscheduleJob(ctx context.Context, tenant, job string) error {
	return do(ctx, c, "UnscheduleJob", jobArgs{Tenant: tenant, Job: job})
}

func (c *Client) DueJobs(ctx context.Context, now time.Time, limit int) ([]state.JobRef, error) {
	return call[[]state.JobRef](ctx, c, "DueJobs", dueArgs{Now: now, Limit: limit})
}

func (c *Client) RepairDue(ctx context.Context, jobs []state.JobRef) (int, error) {
	return call[int](ctx, c, "RepairDue", jobs)
}

func (c *Client) Checkpoint(ctx context.Context, tenant, pipeline string) (state.Checkpoint, error) {
	return call[state.Checkpoint](ctx, c, "Checkpoint", checkpointArgs{Tenant: tenant, Pipeline: pipeline})
}

func (c *Client) SetCursor(ctx context.Context, tenant, pipeline string, at time.Time) (state.Checkpoint, error) {
	return call[state.Checkpoint](ctx, c, "SetCursor", checkpointArgs{Tenant: tenant, Pipeline: pipeline, At: at})
}

func (c *Client) ResetCheckpoint(ctx context.Context, tenant, pipeline string) (state.Checkpoint, error) {
	return call[state.Checkpoint](ctx, c, "ResetCheckpoint", checkpointArgs{Tenant: tenant, Pipeline: pipeline})
}

func (c *Client) CommitPage(ctx context.Context, pc state.PageCommit) (state.CommitResult, error) {
	return call[state.CommitResult](ctx, c, "CommitPage", pc)
}

func (c *Client) Claim(ctx context.Context, q state.QueueRef, consumer string, n, maxAttempts int) (state.Claimed, error) {
	return call[state.Claimed](ctx, c, "Claim", queueArgs{Queue: q, Consumer: consumer, N: n, MaxAttempts: maxAttempts})
}

func (c *Client) Ack(ctx context.Context, q state.QueueRef, consumer string, ids []string) (int, error) {
	return call[int](ctx, c, "Ack", queueArgs{Queue: q, Consumer: consumer, IDs: ids})
}

func (c *Client) Fail(ctx context.Context, q state.QueueRef, consumer string, failures []state.Failure, maxAttempts int) (state.FailResult, error) {
	return call[state.FailResult](ctx, c, "Fail", failArgs{Queue: q, Consumer: consumer, Failures: failures, MaxAttempts: maxAttempts})
}

func (c *Client) Nack(ctx context.Context, q state.QueueRef, consumer string, ids []string) (int, error) {
	return call[int](ctx, c, "Nack", queueArgs{Queue: q, Consumer: consumer, IDs: ids})
}

func (c *Client) AckClaim(ctx context.Context, q state.QueueRef, consumer string, ids []string, n, maxAttempts int) (int, state.Claimed, error) {
	r, err := call[ackClaimReply](ctx, c, "AckClaim", queueArgs{Queue: q, Consumer: consumer, IDs: ids, N: n, MaxAttempts: maxAttempts})
	return r.Acked, r.Claimed, err
}

func (c *Client) Reclaim(ctx context.Context, q state.QueueRef, consumer string, minIdle time.Duration, n, maxAttempts int) (state.Claimed, error) {
	return call[state.Claimed](ctx, c, "Reclaim", queueArgs{Queue: q, Consumer: consumer, MinIdle: minIdle, N: n, MaxAttempts: maxAttempts})
}

func (c *Client) Extend(ctx context.Context, q state.QueueRef, consumer string, ids []string) (int, error) {
	return call[int](ctx, c, "Extend", queueArgs{Queue: q, Consumer: consumer, IDs: ids})
}

func (c *Client) RemoveConsumer(ctx context.Context, q state.QueueRef, consumer string) (bool, error) {
	return call[bool](ctx, c, "RemoveConsumer", queueArgs{Queue: q, Consumer: consumer})
}

func (c *Client) Depth(ctx context.Context, q state.QueueRef) (state.Depth, error) {
	return call[state.Depth](ctx, c, "Depth", q)
}

func (c *Client) Ready(ctx context.Context, lane string, limit int) ([]state.ReadyQueue, error) {
	return call[[]state.ReadyQueue](ctx, c, "Ready", readyArgs{Lane: lane, Limit: limit})
}

func (c *Client) Park(ctx context.Context, q state.QueueRef, d time.Duration) error {
	return do(ctx, c, "Park", parkArgs{Queue: q, For: d})
}

func (c *Client) Hold(ctx context.Context, q state.QueueRef, d time.Duration) (bool, error) {
	return call[bool](ctx, c, "Hold", parkArgs{Queue: q, For: d})
}

func (c *Client) SweepReady(ctx context.Context, qs []state.QueueRef) error {
	return do(ctx, c, "SweepReady", qs)
}

func (c *Client) DeadLetterList(ctx context.Context, tenant, after string, limit int) ([]state.DeadLetter, string, error) {
	r, err := call[lettersReply](ctx, c, "DeadLetterList", pageArgs{Tenant: tenant, After: after, Limit: limit})
	return r.Letters, r.Next, err
}

func (c *Client) DeadLetter(ctx context.Context, tenant, id string) (state.DeadLetter, error) {
	return call[state.DeadLetter](ctx, c, "DeadLetter", idArgs{Tenant: tenant, ID: id})
}

func (c *Client) Replay(ctx context.Context, tenant, lane string, ids []string) (int, error) {
	return call[int](ctx, c, "Replay", idsArgs{Tenant: tenant, Lane: lane, IDs: ids})
}

func (c *Client) Purge(ctx context.Context, tenant string, ids []string) (int, error) {
	return call[int](ctx, c, "Purge", idsArgs{Tenant: tenant, IDs: ids})
}

func (c *Client) PurgeAll(ctx context.Context, tenant string) (int, error) {
	return call[int](ctx, c, "PurgeAll", tenantArgs{Tenant: tenant})
}

func (c *Client) SetFlag(ctx context.Context, tenant string, f state.Flag) error {
	return do(ctx, c, "SetFlag", flagArgs{Tenant: tenant, Flag: f})
}

func (c *Client) ClearFlag(ctx context.Context, tenant string, kind state.FlagKind, scope string) error {
	return do(ctx, c, "ClearFlag", clearFlagArgs{Tenant: tenant, Kind: kind, Scope: scope})
}

func (c *Client) Flags(ctx context.Context, tenant string) ([]state.Flag, error) {
	return call[[]state.Flag](ctx, c, "Flags", tenantArgs{Tenant: tenant})
}

func (c *Client) PutCredential(ctx context.Context, tenant string, sealed []byte) error {
	return do(ctx, c, "PutCredential", credentialArgs{Tenant: tenant, Sealed: sealed})
}

func (c *Client) Credential(ctx context.Context, tenant string) ([]byte, error) {
	return call[[]byte](ctx, c, "Credential", tenantArgs{Tenant: tenant})
}

func (c *Client) DeleteCredential(ctx context.Context, tenant string) error {
	return do(ctx, c, "DeleteCredential", tenantArgs{Tenant: tenant})
}

// SwapCredential compares and writes in the serving process's store, in one
// call there.
func (c *Client) SwapCredential(ctx context.Context, tenant string, old, sealed []byte) (bool, error) {
	return call[bool](ctx, c, "SwapCredential", swapCredentialArgs{Tenant: tenant, Old: old, Sealed: sealed})
}

func (c *Client) ActivateConfig(ctx context.Context, v state.ConfigVersion, force bool) (state.ConfigVersion, error) {
	return call[state.ConfigVersion](ctx, c, "ActivateConfig", activateArgs{Version: v, Force: force})
}

func (c *Client) ActiveConfig(ctx context.Context) (state.ConfigVersion, bool, error) {
	r, err := call[activeReply](ctx, c, "ActiveConfig", none{})
	return r.Version, r.OK, err
}

func (c *Client) AppendAudit(ctx context.Context, e state.AuditEntry) error {
	return do(ctx, c, "AppendAudit", e)
}

func (c *Client) Audit(ctx context.Context, tenant, after string, limit int) ([]state.AuditEntry, string, error) {
	r, err := call[auditReply](ctx, c, "Audit", pageArgs{Tenant: tenant, After: after, Limit: limit})
	return r.Entries, r.Next, err
}

func (c *Client) DeleteScan(ctx context.Context, tenant, resource, scanID string) error {
	return do(ctx, c, "DeleteScan", scanArgs{Tenant: tenant, Resource: resource, ScanID: scanID})
}

// Take and SetThrottle check their arguments here as well: JSON cannot
// carry a NaN or infinite factor to the server that would refuse it.
func (c *Client) Take(ctx context.Context, req state.TakeRequest) (state.TakeResult, error) {
	if err := state.CheckTake(req); err != nil {
		return state.TakeResult{}, fmt.Errorf("take %s: %w", req.Tenant, err)
	}
	return call[state.TakeResult](ctx, c, "Take", req)
}

func (c *Client) DrainBudget(ctx context.Context, tenant, key string, d time.Duration) error {
	return do(ctx, c, "DrainBudget", drainArgs{Tenant: tenant, Key: key, For: d})
}

func (c *Client) SetThrottle(ctx context.Context, factor float64) error {
	if err := state.CheckThrottle(factor); err != nil {
		return fmt.Errorf("set throttle: %w", err)
	}
	return do(ctx, c, "SetThrottle", factor)
}

func (c *Client) Throttle(ctx context.Context) (float64, error) {
	return call[float64](ctx, c, "Throttle", none{})
}

func (c *Client) PutNote(ctx context.Context, tenant, name string, value []byte) error {
	return do(ctx, c, "PutNote", noteArgs{Tenant: tenant, Name: name, Value: value})
}

func (c *Client) Note(ctx context.Context, tenant, name string) ([]byte, error) {
	return call[[]byte](ctx, c, "Note", noteArgs{Tenant: tenant, Name: name})
}

func (c *Client) DeleteNote(ctx context.Context, tenant, name string) error {
	return do(ctx, c, "DeleteNote", noteArgs{Tenant: tenant, Name: name})
}

func (c *Client) PurgeTenant(ctx context.Context, tenant string) (int, error) {
	return call[int](ctx, c, "PurgeTenant", tenantArgs{Tenant: tenant})
}

// ScanPages reads the server's stream a line at a time, calling fn for each
// page as it arrives. When fn fails, the stream is dropped, which ends the
// server's scan through its request's context.
func (c *Client) ScanPages(ctx context.Context, tenant, resource, scanID string, fn func(page int64, ids []string) error) error {
	resp, err := c.post(ctx, "ScanPages", scanArgs{Tenant: tenant, Resource: resource, ScanID: scanID})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var f scanFrame
		if err := dec.Decode(&f); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the end line never came
			}
			return c.transportError(ctx, "ScanPages", fmt.Errorf("reading the stream: %w", err))
		}
		if f.End {
			if f.Error != nil {
				return f.Error.err()
			}
			return nil
		}
		if err := fn(f.Page, f.IDs); err != nil {
			return err
		}
	}
}

package sock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// shutdownWait is how long Close lets calls in flight finish before it cuts
// their connections: an operator command finishes, a hung one does not hold
// up the holder's exit.
const shutdownWait = 5 * time.Second

// Server serves a Store on a unix socket.
type Server struct {
	path string
	info os.FileInfo // the socket file, so Close removes only its own
	srv  *http.Server
	done chan struct{}
}

// Serve serves st on a unix socket at path until Close. A socket already at
// path that nobody answers on is a dead server's and is replaced; one that
// answers is another server's, and Serve refuses to take its place. The
// directory must belong to the current user.
func Serve(path string, st state.Store) (*Server, error) {
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("serve store on %s: %w", path, err)
	}
	if err := clearStale(path); err != nil {
		return nil, fmt.Errorf("serve store on %s: %w", path, err)
	}
	l, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("serve store on %s: %w", path, err)
	}
	info, err := os.Lstat(path)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("serve store on %s: %w", path, err)
	}
	s := &Server{
		path: path,
		info: info,
		srv:  &http.Server{Handler: handler(st), ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(l) // ErrServerClosed once Close runs
	}()
	return s, nil
}

// clearStale removes a socket at path that no server answers on.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; move it away", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("another process serves the store on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// listenPrivate listens on path with mode 0600 from the first connection
// on: it binds a temporary name, restricts it, then renames it into place
// (the listener keeps the file it bound). The temporary name is short and
// random: a unix socket path has a small length limit, and two stores in
// one directory may be opened at once.
func listenPrivate(path string) (*net.UnixListener, error) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(path), ".sock-"+hex.EncodeToString(rnd[:]))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The file is renamed and later removed by Close, which checks it is
	// still ours; the listener must not remove the temporary name.
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, err
	}
	return l, nil
}

// Close stops serving, letting calls in flight finish for a few seconds,
// and removes the socket. It does not close the store.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	if fi, statErr := os.Lstat(s.path); statErr == nil && os.SameFile(fi, s.info) {
		if rmErr := os.Remove(s.path); rmErr != nil && err == nil {
			err = rmErr
		}
	}
	if err != nil {
		return fmt.Errorf("stop serving store on %s: %w", s.path, err)
	}
	return nil
}

// handle registers one method: decode its arguments, call, encode its
// result and error together (some methods return both, as ActivateConfig
// does with ErrSuperseded).
func handle[A, R any](mux *http.ServeMux, name string, fn func(ctx context.Context, a A) (R, error)) {
	mux.HandleFunc("POST "+apiPrefix+name, func(w http.ResponseWriter, r *http.Request) {
		var a A
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("%w: %s arguments: %v", state.ErrInvalid, name, err))
			return
		}
		res, err := fn(r.Context(), a)
		out := reply[R]{Result: res}
		if err != nil {
			out.Error = toWire(err)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out) // a failed write is the client gone
	})
}

func writeError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(toWire(err))
}

// handler maps every Store method to its path.
func handler(st state.Store) http.Handler {
	mux := http.NewServeMux()
	handle(mux, "Info", func(ctx context.Context, _ none) (state.Info, error) { return st.Info(ctx) })

	handle(mux, "Acquire", func(ctx context.Context, a state.AcquireRequest) (acquireReply, error) {
		l, ok, err := st.Acquire(ctx, a)
		return acquireReply{Lease: l, Granted: ok}, err
	})
	handle(mux, "Renew", func(ctx context.Context, a renewArgs) (state.Lease, error) { return st.Renew(ctx, a.Lease, a.TTL) })
	handle(mux, "Release", func(ctx context.Context, l state.Lease) (none, error) { return none{}, st.Release(ctx, l) })
	handle(mux, "ScheduleJob", func(ctx context.Context, a scheduleArgs) (time.Time, error) {
		return st.ScheduleJob(ctx, a.Tenant, a.Job, a.Due, a.Replace)
	})
	handle(mux, "UnscheduleJob", func(ctx context.Context, a jobArgs) (none, error) {
		return none{}, st.UnscheduleJob(ctx, a.Tenant, a.Job)
	})
	handle(mux, "DueJobs", func(ctx context.Context, a dueArgs) ([]state.JobRef, error) { return st.DueJobs(ctx, a.Now, a.Limit) })
	handle(mux, "RepairDue", func(ctx context.Context, jobs []state.JobRef) (int, error) { return st.RepairDue(ctx, jobs) })

	handle(mux, "Checkpoint", func(ctx context.Context, a checkpointArgs) (state.Checkpoint, error) {
		return st.Checkpoint(ctx, a.Tenant, a.Pipeline)
	})
	handle(mux, "SetCursor", func(ctx context.Context, a checkpointArgs) (state.Checkpoint, error) {
		return st.SetCursor(ctx, a.Tenant, a.Pipeline, a.At)
	})
	handle(mux, "ResetCheckpoint", func(ctx context.Context, a checkpointArgs) (state.Checkpoint, error) {
		return st.ResetCheckpoint(ctx, a.Tenant, a.Pipeline)
	})

	handle(mux, "CommitPage", func(ctx context.Context, c state.PageCommit) (state.CommitResult, error) {
		return st.CommitPage(ctx, c)
	})
	handle(mux, "Claim", func(ctx context.Context, a queueArgs) (state.Claimed, error) {
		return st.Claim(ctx, a.Queue, a.Consumer, a.N, a.MaxAttempts)
	})
	handle(mux, "Ack", func(ctx context.Context, a queueArgs) (int, error) { return st.Ack(ctx, a.Queue, a.Consumer, a.IDs) })
	handle(mux, "AckClaim", func(ctx context.Context, a queueArgs) (ackClaimReply, error) {
		acked, c, err := st.AckClaim(ctx, a.Queue, a.Consumer, a.IDs, a.N, a.MaxAttempts)
		return ackClaimReply{Acked: acked, Claimed: c}, err
	})
	handle(mux, "Fail", func(ctx context.Context, a failArgs) (state.FailResult, error) {
		return st.Fail(ctx, a.Queue, a.Consumer, a.Failures, a.MaxAttempts)
	})
	handle(mux, "Nack", func(ctx context.Context, a queueArgs) (int, error) { return st.Nack(ctx, a.Queue, a.Consumer, a.IDs) })
	handle(mux, "Reclaim", func(ctx context.Context, a queueArgs) (state.Claimed, error) {
		return st.Reclaim(ctx, a.Queue, a.Consumer, a.MinIdle, a.N, a.MaxAttempts)
	})
	handle(mux, "Extend", func(ctx context.Context, a queueArgs) (int, error) { return st.Extend(ctx, a.Queue, a.Consumer, a.IDs) })
	handle(mux, "RemoveConsumer", func(ctx context.Context, a queueArgs) (bool, error) {
		return st.RemoveConsumer(ctx, a.Queue, a.Consumer)
	})
	handle(mux, "Depth", func(ctx context.Context, q state.QueueRef) (state.Depth, error) { return st.Depth(ctx, q) })
	handle(mux, "Ready", func(ctx context.Context, a readyArgs) ([]state.ReadyQueue, error) {
		return st.Ready(ctx, a.Lane, a.Limit)
	})
	handle(mux, "Park", func(ctx context.Context, a parkArgs) (none, error) { return none{}, st.Park(ctx, a.Queue, a.For) })
	handle(mux, "Hold", func(ctx context.Context, a parkArgs) (bool, error) { return st.Hold(ctx, a.Queue, a.For) })
	handle(mux, "SweepReady", func(ctx context.Context, qs []state.QueueRef) (none, error) { return none{}, st.SweepReady(ctx, qs) })

	handle(mux, "DeadLetterList", func(ctx context.Context, a pageArgs) (lettersReply, error) {
		ls, next, err := st.DeadLetterList(ctx, a.Tenant, a.After, a.Limit)
		return lettersReply{Letters: ls, Next: next}, err
	})
	handle(mux, "DeadLetter", func(ctx context.Context, a idArgs) (state.DeadLetter, error) {
		return st.DeadLetter(ctx, a.Tenant, a.ID)
	})
	handle(mux, "Replay", func(ctx context.Context, a idsArgs) (int, error) { return st.Replay(ctx, a.Tenant, a.Lane, a.IDs) })
	handle(mux, "Purge", func(ctx context.Context, a idsArgs) (int, error) { return st.Purge(ctx, a.Tenant, a.IDs) })
	handle(mux, "PurgeAll", func(ctx context.Context, a tenantArgs) (int, error) { return st.PurgeAll(ctx, a.Tenant) })

	handle(mux, "SetFlag", func(ctx context.Context, a flagArgs) (none, error) { return none{}, st.SetFlag(ctx, a.Tenant, a.Flag) })
	handle(mux, "ClearFlag", func(ctx context.Context, a clearFlagArgs) (none, error) {
		return none{}, st.ClearFlag(ctx, a.Tenant, a.Kind, a.Scope)
	})
	handle(mux, "Flags", func(ctx context.Context, a tenantArgs) ([]state.Flag, error) { return st.Flags(ctx, a.Tenant) })
	handle(mux, "PutCredential", func(ctx context.Context, a credentialArgs) (none, error) {
		return none{}, st.PutCredential(ctx, a.Tenant, a.Sealed)
	})
	handle(mux, "Credential", func(ctx context.Context, a tenantArgs) ([]byte, error) { return st.Credential(ctx, a.Tenant) })
	handle(mux, "DeleteCredential", func(ctx context.Context, a tenantArgs) (none, error) {
		return none{}, st.DeleteCredential(ctx, a.Tenant)
	})
	handle(mux, "SwapCredential", func(ctx context.Context, a swapCredentialArgs) (bool, error) {
		return st.SwapCredential(ctx, a.Tenant, a.Old, a.Sealed)
	})
	handle(mux, "ActivateConfig", func(ctx context.Context, a activateArgs) (state.ConfigVersion, error) {
		return st.ActivateConfig(ctx, a.Version, a.Force)
	})
	handle(mux, "ActiveConfig", func(ctx context.Context, _ none) (activeReply, error) {
		v, ok, err := st.ActiveConfig(ctx)
		return activeReply{Version: v, OK: ok}, err
	})
	handle(mux, "AppendAudit", func(ctx context.Context, e state.AuditEntry) (none, error) { return none{}, st.AppendAudit(ctx, e) })
	handle(mux, "Audit", func(ctx context.Context, a pageArgs) (auditReply, error) {
		es, next, err := st.Audit(ctx, a.Tenant, a.After, a.Limit)
		return auditReply{Entries: es, Next: next}, err
	})

	handle(mux, "DeleteScan", func(ctx context.Context, a scanArgs) (none, error) {
		return none{}, st.DeleteScan(ctx, a.Tenant, a.Resource, a.ScanID)
	})

	handle(mux, "Take", func(ctx context.Context, r state.TakeRequest) (state.TakeResult, error) { return st.Take(ctx, r) })
	handle(mux, "DrainBudget", func(ctx context.Context, a drainArgs) (none, error) {
		return none{}, st.DrainBudget(ctx, a.Tenant, a.Key, a.For)
	})
	handle(mux, "SetThrottle", func(ctx context.Context, f float64) (none, error) { return none{}, st.SetThrottle(ctx, f) })
	handle(mux, "Throttle", func(ctx context.Context, _ none) (float64, error) { return st.Throttle(ctx) })
	handle(mux, "PutNote", func(ctx context.Context, a noteArgs) (none, error) {
		return none{}, st.PutNote(ctx, a.Tenant, a.Name, a.Value)
	})
	handle(mux, "Note", func(ctx context.Context, a noteArgs) ([]byte, error) { return st.Note(ctx, a.Tenant, a.Name) })
	handle(mux, "DeleteNote", func(ctx context.Context, a noteArgs) (none, error) {
		return none{}, st.DeleteNote(ctx, a.Tenant, a.Name)
	})
	handle(mux, "PurgeTenant", func(ctx context.Context, a tenantArgs) (int, error) { return st.PurgeTenant(ctx, a.Tenant) })

	mux.HandleFunc("POST "+apiPrefix+"ScanPages", func(w http.ResponseWriter, r *http.Request) { scanPages(st, w, r) })
	return mux
}

// scanPages streams a scan one page per line, flushing each, so the
// socket's buffers pace the store's reads to the client's callback.
func scanPages(st state.Store, w http.ResponseWriter, r *http.Request) {
	var a scanArgs
	if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%w: ScanPages arguments: %v", state.ErrInvalid, err))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	err := st.ScanPages(r.Context(), a.Tenant, a.Resource, a.ScanID, func(page int64, ids []string) error {
		if err := enc.Encode(scanFrame{Page: page, IDs: ids}); err != nil {
			return err
		}
		return rc.Flush()
	})
	end := scanFrame{End: true}
	if err != nil {
		end.Error = toWire(err)
	}
	_ = enc.Encode(end) // a failed write is the client gone
}

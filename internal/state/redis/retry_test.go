package redis

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// dropProxy forwards TCP to Redis; once armed, it lets the next request that
// contains a marker reach the server and then cuts the connection before the
// reply comes back: the client sees a network error after the command ran.
type dropProxy struct {
	ln     net.Listener
	target string
	marker atomic.Pointer[[]byte]
	cuts   atomic.Int32
	wg     sync.WaitGroup
}

func startDropProxy(t *testing.T, target string) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *dropProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.pipe(c)
		}()
	}
}

func (p *dropProxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	done := make(chan struct{})
	go func() {
		io.Copy(c, s)
		c.Close()
		close(done)
	}()
	buf := make([]byte, 1<<16)
	// tail keeps the end of the bytes already sent, so a marker split
	// across two reads (a pipeline written in several segments) is found.
	var tail []byte
	for {
		n, err := c.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			seen := append(tail, chunk...)
			if m := p.marker.Load(); m != nil && bytes.Contains(seen, *m) && p.marker.CompareAndSwap(m, nil) {
				s.Write(chunk)
				p.cuts.Add(1)
				c.Close()                          // the client never sees the reply
				time.Sleep(200 * time.Millisecond) // while the server runs the command
				s.Close()
				<-done
				return
			}
			if _, err := s.Write(chunk); err != nil {
				break
			}
			tail = append(tail[:0], seen[max(0, len(seen)-64):]...)
		}
		if err != nil {
			break
		}
	}
	s.Close()
	<-done
}

// openBehindDropProxy opens a store on a fresh server through a drop proxy
// and takes acme's poll lease, the start of every retry test.
func openBehindDropProxy(t *testing.T) (*Store, *dropProxy, state.Lease) {
	t.Helper()
	srv := redistest.Start(t)
	proxy := startDropProxy(t, srv.Addr)
	ctx := context.Background()
	s, err := Open(ctx, "redis://"+proxy.ln.Addr().String(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "poll", Owner: "w", TTL: time.Minute})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	return s, proxy, l
}

// TestRetriedScriptsRunOnce cuts the connection after the server ran a page
// commit, a lease grant and an audit append: go-redis retries them on a new connection and
// the operation records make the retries return the first replies.
func TestRetriedScriptsRunOnce(t *testing.T) {
	s, proxy, l := openBehindDropProxy(t)
	ctx := context.Background()
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}

	marker := []byte(commitPageScript.Hash())
	proxy.marker.Store(&marker)
	res, err := s.CommitPage(ctx, state.PageCommit{
		Lease:   l,
		Walks:   []state.WalkUpdate{{Pipeline: "users", Walk: state.Walk{Position: 2}}},
		Enqueue: []state.Enqueue{{Queue: q, Entries: []state.Entry{{Pipeline: "users", Key: "1"}, {Pipeline: "users", Key: "2"}}}},
	})
	if err != nil {
		t.Fatalf("commit across a cut connection: %v", err)
	}
	if proxy.cuts.Load() != 1 {
		t.Fatal("the connection was not cut")
	}
	if res.Enqueued != 2 || len(res.Applied) != 1 {
		t.Fatalf("result %+v", res)
	}
	if d, _ := s.Depth(ctx, q); d.Stream != 2 {
		t.Fatalf("a retried commit enqueued %d entries, want 2", d.Stream)
	}

	// A lost grant reply: without the operation record the retry would find
	// the lease held (by this very caller) and report it as taken.
	marker = []byte(acquireScript.Hash())
	proxy.marker.Store(&marker)
	g, ok, err := s.Acquire(ctx, state.AcquireRequest{Tenant: "acme", Job: "reconcile", Owner: "w", TTL: time.Minute})
	if err != nil || !ok || g.Token.Counter == 0 {
		t.Fatalf("acquire across a cut connection: ok=%v %+v %v", ok, g, err)
	}
	if proxy.cuts.Load() != 2 {
		t.Fatal("the connection was not cut")
	}

	marker = []byte(appendAuditScript.Hash())
	proxy.marker.Store(&marker)
	if err := s.AppendAudit(ctx, state.AuditEntry{Tenant: "acme", Who: "ops", Action: "disable"}); err != nil {
		t.Fatal(err)
	}
	if es, _, _ := s.Audit(ctx, "acme", "", 10); len(es) != 1 {
		t.Fatalf("a retried audit append wrote %d entries", len(es))
	}
}

// TestRetriedAckClaim cuts the connection after the server ran an ack and
// claim: the retry acks nothing more and hands the first run's claim to
// the same consumer again, so no entry is lost or claimed twice.
func TestRetriedAckClaim(t *testing.T) {
	s, proxy, l := openBehindDropProxy(t)
	ctx := context.Background()
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	var es []state.Entry
	for _, k := range []string{"1", "2", "3", "4", "5"} {
		es = append(es, state.Entry{Pipeline: "users", Key: k})
	}
	if _, err := s.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: es}}}); err != nil {
		t.Fatal(err)
	}
	first, err := s.Claim(ctx, q, "c", 2, 5)
	if err != nil || len(first.Entries) != 2 {
		t.Fatal(len(first.Entries), err)
	}
	ids := []string{first.Entries[0].ID, first.Entries[1].ID}

	marker := []byte(ackClaimScript.Hash())
	proxy.marker.Store(&marker)
	_, c, err := s.AckClaim(ctx, q, "c", ids, 2, 5)
	if err != nil {
		t.Fatalf("ack and claim across a cut connection: %v", err)
	}
	if proxy.cuts.Load() != 1 {
		t.Fatal("the connection was not cut")
	}
	if len(c.Entries) != 2 || c.Entries[0].Key != "3" || c.Entries[1].Key != "4" {
		t.Fatalf("claimed %+v, want entries 3 and 4", c.Entries)
	}
	if d, _ := s.Depth(ctx, q); d.Stream != 3 || d.Pending != 2 {
		t.Fatalf("depth %+v, want 3 in the stream, 2 of them pending", d)
	}
}

package host

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	destpb "github.com/siphonhq/siphon/plugins/proto"
	"github.com/siphonhq/siphon/plugins/sdk"
)

func rec(key string, ms int, hash string) sdk.Record {
	return sdk.Record{Object: "users", Key: key, ContentHash: hash,
		Version: sdk.Version{Source: time.UnixMilli(int64(ms)).UTC(), Generation: 1}}
}

func TestPrepareDeduplicates(t *testing.T) {
	recs := []sdk.Record{
		rec("a", 1, "a1"),
		rec("b", 5, "b5"),
		rec("a", 3, "a3"),       // newer: replaces a1
		rec("b", 4, "b4"),       // older: dropped
		rec("a", 3, "a3-again"), // equal version, later in the batch: wins
		{Object: "other", Key: "a", ContentHash: "other"},
	}
	results := make([]sdk.Result, len(recs))
	items := prepare(recs, results)
	var kept []string
	for _, it := range items {
		kept = append(kept, it.rec.ContentHash)
	}
	if got := strings.Join(kept, ","); got != "a3-again,b5,other" {
		t.Fatalf("kept %s", got)
	}
	for _, i := range []int{0, 2, 3} {
		if !results[i].Skipped || results[i].Message != supersededMessage {
			t.Errorf("record %d: %+v, want skipped as superseded", i, results[i])
		}
	}
}

func TestPrepareRejectsUnencodable(t *testing.T) {
	recs := []sdk.Record{rec("a", 1, "a"), rec("b", 1, "b")}
	recs[1].Fields = map[string]any{"bad": make(chan int)}
	results := make([]sdk.Result, 2)
	items := prepare(recs, results)
	if len(items) != 1 || results[1].Status != sdk.StatusPermanent || !strings.Contains(results[1].Message, "users/b") {
		t.Fatalf("items %d, result %+v", len(items), results[1])
	}
}

func TestSplitAt4MiB(t *testing.T) {
	payload := strings.Repeat("x", 100<<10)
	var recs []sdk.Record
	for i := range 100 { // 10 MiB
		r := rec(fmt.Sprintf("k%03d", i), 1, "h")
		r.Fields = map[string]any{"payload": payload}
		recs = append(recs, r)
	}
	huge := rec("huge", 1, "h")
	huge.Fields = map[string]any{"payload": strings.Repeat("y", 5<<20)}
	recs = append(recs, huge)
	items := prepare(recs, make([]sdk.Result, len(recs)))
	parts := split(items)
	total := 0
	for i, part := range parts {
		req := &destpb.WriteRequest{Tenant: "acme"}
		for _, it := range part {
			req.Records = append(req.Records, it.rec)
			if wireSize(it.rec) < proto.Size(it.rec) {
				t.Fatalf("wireSize %d under the real size %d", wireSize(it.rec), proto.Size(it.rec))
			}
		}
		total += len(part)
		if size := proto.Size(req); size > MaxPartBytes && len(part) > 1 {
			t.Errorf("part %d: %d bytes in %d records", i, size, len(part))
		}
	}
	if total != len(recs) || len(parts) != 4 {
		t.Fatalf("%d records in %d parts", total, len(parts))
	}
	if last := parts[len(parts)-1]; len(last) != 1 || last[0].rec.Key != "huge" {
		t.Fatalf("the oversized record does not travel alone")
	}
}

func TestBreakerHalfOpen(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBreakers(BreakerConfig{Failures: 2, Cooldown: time.Minute})
	b.now = func() time.Time { return now }
	boom := fmt.Errorf("boom")
	b.failure("t", boom)
	if err := b.allow("d", "t"); err != nil {
		t.Fatalf("open after one failure: %v", err)
	}
	b.failure("t", boom)
	if err := b.allow("d", "t"); err == nil {
		t.Fatal("closed after two failures")
	}
	if err := b.allow("d", "other"); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	now = now.Add(time.Minute)
	if err := b.allow("d", "t"); err != nil {
		t.Fatalf("no trial after the cooldown: %v", err)
	}
	if err := b.allow("d", "t"); err == nil {
		t.Fatal("a second trial while the first is in flight")
	}
	b.failure("t", boom)
	if err := b.allow("d", "t"); err == nil {
		t.Fatal("a failed trial did not re-open the breaker")
	}
	now = now.Add(time.Minute)
	if err := b.allow("d", "t"); err != nil {
		t.Fatal(err)
	}
	if st := b.state("t"); !st.LastSuccess.IsZero() {
		t.Fatalf("a success before any write succeeded: %+v", st)
	}
	b.success("t")
	if st := b.state("t"); st.Open || st.Failures != 0 || !st.LastSuccess.Equal(now) {
		t.Fatalf("after a good trial: %+v", st)
	}
	// The next failure is the first since a write succeeded.
	b.failure("t", boom)
	if st := b.state("t"); st.Open || st.Failures != 1 || !st.LastSuccess.Equal(now) {
		t.Fatalf("a failure after a good write: %+v", st)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	for failures, want := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second} {
		if got := b.delay(failures); got != want {
			t.Errorf("delay(%d) = %s, want %s", failures, got, want)
		}
	}
}

func TestTailKeepsLastLines(t *testing.T) {
	var tl tail
	for i := range 30 {
		fmt.Fprintf(&tl, "line %d\n", i)
	}
	_, _ = tl.Write([]byte(`{"@level":"error","@message":"disk full","path":"/x"}` + "\n"))
	lines := tl.Lines()
	if len(lines) != tailLines || lines[0] != "line 11" || lines[len(lines)-1] != "error: disk full path=/x" {
		t.Fatalf("%q", lines)
	}
}

package local

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
)

func sampleEntry() state.Entry {
	return state.Entry{Pipeline: "users", Key: "a%2Fb/7", Op: "upsert",
		Version:          time.Date(2026, 3, 4, 15, 22, 10, 123456789, time.UTC),
		ConfigGeneration: 3, Seq: -1, ContentHash: "0123abcd", Trace: "00-aa-bb-01",
		Payload: []byte(`{"id":7,"name":"Zoë \"Z\""}`), Attempts: 2, LastError: "db: locked"}
}

func TestEntryCodecRoundTrip(t *testing.T) {
	for _, e := range []state.Entry{sampleEntry(), {Pipeline: "p", Key: "k", Op: "delete"}} {
		got, err := decodeEntry(u64(42), encodeEntry(e))
		if err != nil {
			t.Fatal(err)
		}
		e.ID = "42"
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, e)
		}
	}
}

func TestEntryCodecRejectsDamage(t *testing.T) {
	b := encodeEntry(sampleEntry())
	// Every cut of a stored entry is an error naming the entry, never a
	// shorter entry or a panic.
	for n := 0; n < len(b); n++ {
		if _, err := decodeEntry(u64(9), b[:n]); err == nil || !strings.Contains(err.Error(), "queue entry 9") {
			t.Fatalf("%d of %d bytes: err %v", n, len(b), err)
		}
	}
	if _, err := decodeEntry(u64(9), append(b, 0)); err == nil || !strings.Contains(err.Error(), "after the payload") {
		t.Fatalf("trailing byte: err %v", err)
	}
}

// A format 1 file holds JSON entries: opening it upgrades the recorded
// version (so an older siphon refuses the file) and its queued entries
// are claimed as they were written.
func TestReadsFormat1Entries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := sampleEntry()
	want.Attempts, want.LastError = 0, ""
	old, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	q := state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}
	err = s.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bMeta).Put(kFormat, []byte("1")); err != nil {
			return err
		}
		tb, err := tenant(tx, q.Tenant)
		if err != nil {
			return err
		}
		_, st, _, _, err := queueBuckets(tx, tb, q.Destination)
		if err != nil {
			return err
		}
		id, err := st.NextSequence()
		if err != nil {
			return err
		}
		return st.Put(u64(id), old)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var format []byte
	if err := s.db.View(func(tx *bolt.Tx) error {
		format = append(format, tx.Bucket(bMeta).Get(kFormat)...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if string(format) != strconv.Itoa(state.FormatVersion) {
		t.Fatalf("format after open %q, want %d", format, state.FormatVersion)
	}
	got, err := s.Claim(context.Background(), q, "c1", 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 1 {
		t.Fatalf("claimed %d entries, want the one format 1 entry", len(got.Entries))
	}
	e := got.Entries[0]
	want.ID = e.ID
	if !e.Version.Equal(want.Version) || !reflect.DeepEqual(e.Payload, want.Payload) {
		t.Fatalf("format 1 entry read as %#v, want %#v", e, want)
	}
	e.Version = want.Version
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("format 1 entry read as %#v, want %#v", e, want)
	}
}

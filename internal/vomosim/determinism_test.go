package vomosim

import (
	"bytes"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
)

// dump returns every truth resource of every tenant, concatenated.
func dump(t *testing.T, srv *Server) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, ti := range srv.Tenants() {
		b.WriteString(ti.ID + " " + ti.Token + "\n")
		for _, res := range TruthResources {
			tr, err := srv.Truth(ti.ID, res)
			if err != nil {
				t.Fatal(err)
			}
			for i, rec := range tr.Records {
				b.WriteString(tr.Keys[i] + " ")
				b.Write(rec)
				b.WriteByte('\n')
			}
		}
	}
	return b.Bytes()
}

// TestSameSeedSameData: generation and churn are functions of the seed and
// the clock alone.
func TestSameSeedSameData(t *testing.T) {
	t.Parallel()
	build := func(seed uint64, churn bool) []byte {
		sc := quiet(300)
		sc.Tenants = 2
		sc.Seed = seed
		sc.Churn.Enabled = churn
		sc.Churn.PerMinute = 120
		sc.Churn.BulkImport = 1
		sc.Churn.LateShare = 0.2
		sc.Churn.LateMax = Duration(3 * time.Second)
		clk := clock.NewManual(testEpoch)
		srv, err := New(Options{Clock: clk, Scenario: sc})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 30; i++ {
			clk.Advance(2 * time.Second)
			if i%7 == 0 {
				// Reading in between must not change the outcome.
				if _, err := srv.Truth("t001", "users"); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dump(t, srv)
	}
	a, b := build(42, false), build(42, false)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different data")
	}
	if c := build(43, false); bytes.Equal(a, c) {
		t.Error("different seeds, same data")
	}
	if a, b := build(42, true), build(42, true); !bytes.Equal(a, b) {
		t.Error("same seed and clock, different churn")
	}
}

package dsl

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// benchUsers are VOMO user records as the client decodes them from a page.
func benchUsers(tb testing.TB, n int) []map[string]any {
	tb.Helper()
	statuses := []string{"ACTIVE", "ACTIVE", "ACTIVE", "PENDING", "REMOVED"}
	recs := make([]map[string]any, n)
	for i := range recs {
		doc := fmt.Sprintf(`{
			"type": "user", "id": %d, "first_name": "Ada%d", "last_name": "Lovelace",
			"full_name": "Ada%d Lovelace", "email": "Ada.Lovelace%d@Example.org",
			"address": {"street": "%d Main St", "city": "Springfield", "state": "IL", "zip": "62701", "country": "US"},
			"phone": "+1 555 010 %04d", "birthday": "1990-12-10", "gender": "F",
			"user_status": "active", "membership_status": %q, "membership_role": "volunteer",
			"created_at": "2026-03-04T15:22:10.000000Z", "updated_at": "2026-03-05T09:01:02.123456Z"
		}`, 1000+i, i, i, i, i, i%10000, statuses[i%len(statuses)])
		if err := json.Unmarshal([]byte(doc), &recs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return recs
}

// BenchmarkTransformApply measures a compiled 5-field mapping with a
// filter over decoded VOMO user records: the per-record cost of the
// runtime's mapping step (JSON → cty included, HTTP excluded).
func BenchmarkTransformApply(b *testing.B) {
	tr := compileForTest(b, testMapping{
		fields: []string{
			`email = lower(record.email)`,
			`full_name = "${record.first_name} ${record.last_name}"`,
			`phone = record.phone`,
			`city = record.address.city`,
			`volunteer_id = record.id`,
		},
		filter: `record.membership_status != "REMOVED"`,
		schema: vomoUserSchema,
	})
	recs := benchUsers(b, 1024)
	tenant := &Tenant{ID: "acme", scope: tenantScope(nil)}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, _, err := tr.Apply(recs[i%len(recs)], tenant); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/record")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(testing.AllocsPerRun(100, func() { _, _, _ = tr.Apply(recs[0], tenant) })), "allocs/record")
}

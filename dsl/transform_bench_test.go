package dsl

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
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

// benchMapping is the benchmark's 5-field mapping and filter over VOMO
// users: a function, a template, plain and nested references.
var benchMapping = testMapping{
	fields: []string{
		`email = lower(record.email)`,
		`full_name = "${record.first_name} ${record.last_name}"`,
		`phone = record.phone`,
		`city = record.address.city`,
		`volunteer_id = record.id`,
	},
	filter: `record.membership_status != "REMOVED"`,
	schema: vomoUserSchema,
}

// BenchmarkTransformApply measures the compiled benchMapping over decoded
// VOMO user records: the per-record cost of the runtime's mapping step
// (JSON → values included, HTTP excluded).
func BenchmarkTransformApply(b *testing.B) {
	benchApply(b, compileForTest(b, benchMapping))
}

// BenchmarkTransformApplyHCL measures the same mapping with every
// expression evaluated by HCL: the cost of mappings the Go fast paths do
// not cover.
func BenchmarkTransformApplyHCL(b *testing.B) {
	benchApply(b, withoutFastPaths(b, benchMapping))
}

// benchApply reports ns/record (wall), cpu-ns/record (process CPU time, so
// that other load on the machine does not inflate it), records/s per core
// and allocs/record.
func benchApply(b *testing.B, tr *Transform) {
	recs := benchUsers(b, 1024)
	tenant := &Tenant{ID: "acme", scope: tenantScope(map[string]cty.Value{"id": cty.StringVal("acme")})}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpuStart := time.Now(), cpuTime(b)
	for i := 0; i < b.N; i++ {
		if _, _, err := tr.Apply(recs[i%len(recs)], tenant); err != nil {
			b.Fatal(err)
		}
	}
	elapsed, cpu := time.Since(start), cpuTime(b)-cpuStart
	b.StopTimer()
	cpuPerRecord := float64(cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/record")
	b.ReportMetric(cpuPerRecord, "cpu-ns/record")
	b.ReportMetric(1e9/cpuPerRecord, "records/s/core")
	b.ReportMetric(testing.AllocsPerRun(100, func() { _, _, _ = tr.Apply(recs[0], tenant) }), "allocs/record")
}

// cpuTime is the CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

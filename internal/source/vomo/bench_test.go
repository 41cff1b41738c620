package vomo

import (
	"encoding/json"
	"fmt"
	"testing"
)

// userPage builds a list page of n users shaped like VOMO's.
func userPage(n int) []byte {
	data := make([]map[string]any, n)
	for i := range data {
		id := 100000 + i
		data[i] = map[string]any{
			"type": "user", "id": id, "first_name": "Ana", "last_name": "Silva", "full_name": "Ana Silva",
			"email":   fmt.Sprintf("ana.silva.%d@example.org", id),
			"address": map[string]any{"street": "12 Elm Street", "city": "Springfield", "state": "IL", "zip": "62701", "country": "US"},
			"phone":   "+1-555-0100", "birthday": "1990-05-17", "gender": "F", "user_status": "ACTIVE",
			"membership_status": "ACTIVE", "membership_role": "VOLUNTEER",
			"created_at": "2024-01-02T03:04:05.000000Z", "updated_at": "2026-03-04T15:22:10.000000Z",
		}
	}
	b, _ := json.Marshal(map[string]any{
		"data":  data,
		"links": map[string]any{"first": "https://api.vomo.org/v1/users?page=1", "last": "https://api.vomo.org/v1/users?page=9", "prev": nil, "next": "https://api.vomo.org/v1/users?page=2"},
		"meta":  map[string]any{"current_page": 1, "from": 1, "to": n, "last_page": 9, "path": "https://api.vomo.org/v1/users", "per_page": n, "total": 9 * n},
	})
	return b
}

// BenchmarkParsePage parses a 100-record page and extracts every key: the
// client's share of the cost of each polled record.
func BenchmarkParsePage(b *testing.B) {
	for _, pk := range [][]string{{"id"}, {"id", "email"}} {
		b.Run(fmt.Sprintf("keys=%d", len(pk)), func(b *testing.B) {
			body := userPage(100)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var recs int
			cpu0 := cpuTime()
			for b.Loop() {
				p, err := ParsePage(body, pk)
				if err != nil {
					b.Fatal(err)
				}
				recs += len(p.Records)
			}
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(recs), "cpu-ns/record")
			}
			b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(testing.AllocsPerRun(20, func() { _, _ = ParsePage(body, pk) }))/100, "allocs/record")
		})
	}
}

// BenchmarkKeyOf measures the canonical key alone.
func BenchmarkKeyOf(b *testing.B) {
	rec := map[string]any{"project_date_id": json.Number("7001"), "user_id": json.Number("12")}
	pk := []string{"project_date_id", "user_id"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := KeyOf(rec, pk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBaseline is plain encoding/json into the same shape with
// no checks and no keys: the floor ParsePage is compared with.
func BenchmarkDecodeBaseline(b *testing.B) {
	body := userPage(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var env struct {
			Data []map[string]any `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			b.Fatal(err)
		}
	}
}

package schedule

import "testing"

func TestBucket(t *testing.T) {
	if got := Bucket("mapping_v2", "acme"); got != 22 {
		t.Errorf("Bucket(mapping_v2, acme) = %d, want 22 (changing the hash reshuffles every rollout)", got)
	}
	var deciles [10]int
	same := 0
	for i := 0; i < 1000; i++ {
		b := Bucket("mapping_v2", tenantName(i))
		if b < 0 || b >= 100 {
			t.Fatalf("bucket %d out of range", b)
		}
		if b != Bucket("mapping_v2", tenantName(i)) {
			t.Fatal("bucket is not stable")
		}
		deciles[b/10]++
		if b == Bucket("other_flag", tenantName(i)) {
			same++
		}
	}
	for i, n := range deciles {
		if n < 50 {
			t.Errorf("buckets %d0–%d9 hold %d of 1000 tenants", i, i, n)
		}
	}
	// Independent flags agree on about 1 tenant in 100.
	if same > 50 {
		t.Errorf("%d of 1000 tenants share a bucket across two flags", same)
	}
}

func TestSelects(t *testing.T) {
	stages := []string{"internal", "friendly", "10%", "50%", "100%"}
	tests := []struct {
		name, stage, cohort string
		bucket              int
		want                bool
		reason              string
	}{
		{"internal stage, internal cohort", "internal", "internal", 90, true, "cohort internal"},
		{"internal stage, friendly cohort", "internal", "friendly", 0, false, "cohort friendly not reached at stage internal"},
		{"internal stage, no cohort", "internal", "", 0, false, "cohort none not reached at stage internal"},
		{"friendly stage keeps internal", "friendly", "internal", 90, true, "cohort internal"},
		{"friendly stage, friendly cohort", "friendly", "friendly", 90, true, "cohort friendly"},
		{"10%, low bucket", "10%", "", 7, true, "bucket 7 < 10%"},
		{"10%, high bucket", "10%", "", 42, false, "bucket 42 ≥ 10%"},
		{"10%, boundary bucket", "10%", "", 10, false, "bucket 10 ≥ 10%"},
		{"10% keeps the cohorts", "10%", "friendly", 99, true, "cohort friendly"},
		{"50%", "50%", "", 42, true, "bucket 42 < 50%"},
		{"100% selects all", "100%", "", 99, true, "bucket 99 < 100%"},
		{"unknown stage", "25%", "", 0, false, `stage "25%" is not one of the flag's stages`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := Selects(stages, tt.stage, tt.cohort, tt.bucket)
			if got != tt.want || reason != tt.reason {
				t.Errorf("Selects(%q, %q, %d) = %v, %q; want %v, %q", tt.stage, tt.cohort, tt.bucket, got, reason, tt.want, tt.reason)
			}
		})
	}
	if ok, _ := Selects([]string{"10%"}, "10%", "internal", 50); ok {
		t.Error("a flag without an internal stage selected the internal cohort by cohort")
	}
}

package schedule

import (
	"fmt"
	"strconv"
	"strings"
)

// Bucket places a tenant in one of 100 buckets for a flag:
// sha256(flag, tenant) mod 100. Including the flag name means each flag
// rolls out to a different 10% first, so no tenant is always the guinea pig.
func Bucket(flag, tenant string) int {
	return int(hash64(flag, tenant) % 100)
}

// Selects reports whether a flag at stage selects a tenant with the given
// cohort and bucket, and why. Stages are cumulative, in order: "internal"
// and "friendly" select those cohorts, then ascending "N%" stages select
// tenants whose bucket is below N. Once a stage is reached every earlier
// stage stays in force, so the internal cohort keeps the new variant at 10%.
// A stage that is not in stages selects nobody.
func Selects(stages []string, stage, cohort string, bucket int) (bool, string) {
	reached := -1
	for i, s := range stages {
		if s == stage {
			reached = i
			break
		}
	}
	if reached < 0 {
		return false, fmt.Sprintf("stage %q is not one of the flag's stages", stage)
	}
	percent, havePercent := 0, false
	for _, s := range stages[:reached+1] {
		switch {
		case s == "internal" || s == "friendly":
			if cohort == s {
				return true, "cohort " + s
			}
		case strings.HasSuffix(s, "%"):
			if p, err := strconv.Atoi(strings.TrimSuffix(s, "%")); err == nil {
				percent, havePercent = p, true
			}
		}
	}
	if !havePercent {
		if cohort == "" {
			cohort = "none"
		}
		return false, fmt.Sprintf("cohort %s not reached at stage %s", cohort, stage)
	}
	if bucket < percent {
		return true, fmt.Sprintf("bucket %d < %d%%", bucket, percent)
	}
	return false, fmt.Sprintf("bucket %d ≥ %d%%", bucket, percent)
}

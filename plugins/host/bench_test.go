package host_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// kilobyteBatch is a batch of n records of about 1 KB of mapped fields.
func kilobyteBatch(n int) sdk.Batch {
	recs := make([]sdk.Record, n)
	text := strings.Repeat("v", 100)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		fields := map[string]any{"id": int64(i), "active": true, "score": 0.5, "updated_at": at}
		for f := range 9 {
			fields[fmt.Sprintf("field_%d", f)] = text
		}
		recs[i] = sdk.Record{
			Op: sdk.OpUpsert, Object: "users", Key: fmt.Sprintf("user-%06d", i),
			Version:     sdk.Version{Source: at, Generation: 1, Seq: int64(i)},
			ContentHash: fmt.Sprintf("%032x", i), IdempotencyKey: fmt.Sprintf("%064x", i),
			Fields: fields,
		}
	}
	return sdk.Batch{Tenant: "acme", Records: recs}
}

// BenchmarkWriteNoop measures the plugin boundary: the host writes batches
// of 500 records of about 1 KB to a plugin that stores nothing.
func BenchmarkWriteNoop(b *testing.B) {
	d := launch(b, pluginConfig("noop"))
	batch := kilobyteBatch(500)
	b.SetBytes(int64(500 * 1024))
	cpu := startCPU(b, d.Pid())
	b.ResetTimer()
	for range b.N {
		if _, err := d.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch.Records))/b.Elapsed().Seconds(), "records/s")
	cpu.report(b, b.N*len(batch.Records))
}

// BenchmarkWriteNoopParallel is the same with concurrent writers, as the
// runtime's workers write.
func BenchmarkWriteNoopParallel(b *testing.B) {
	d := launch(b, pluginConfig("noop"))
	batch := kilobyteBatch(500)
	b.SetBytes(int64(500 * 1024))
	cpu := startCPU(b, d.Pid())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.Write(ctx, batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*len(batch.Records))/b.Elapsed().Seconds(), "records/s")
	cpu.report(b, b.N*len(batch.Records))
}

// cpuMeter measures the CPU time the host (this process) and the plugin
// spend, which unlike records/s does not depend on what else the machine
// is running.
type cpuMeter struct {
	pid          int
	host, plugin time.Duration
}

func startCPU(b *testing.B, pid int) *cpuMeter {
	m := &cpuMeter{pid: pid}
	m.host, m.plugin = hostCPU(b), pluginCPU(b, pid)
	return m
}

func (m *cpuMeter) report(b *testing.B, records int) {
	host := hostCPU(b) - m.host
	plugin := pluginCPU(b, m.pid) - m.plugin
	b.ReportMetric(float64(host.Microseconds())/float64(records), "host-cpu-µs/record")
	b.ReportMetric(float64(plugin.Microseconds())/float64(records), "plugin-cpu-µs/record")
}

func hostCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pluginCPU reads utime+stime of pid from /proc (in clock ticks of 10ms).
func pluginCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

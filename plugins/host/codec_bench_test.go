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

// BenchmarkCodec is the CPU the wire costs per batch of 500 records of
// about 1 KB, both sides together, without the transport: the host's
// de-duplication, encoding and marshalling, and the plugin's unmarshalling
// and field decoding.
func BenchmarkCodec(b *testing.B) {
	recs := make([]sdk.Record, 500)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		fields := map[string]any{"id": int64(i), "active": true, "score": 0.5, "updated_at": at}
		for f := range 9 {
			fields[fmt.Sprintf("field_%d", f)] = strings.Repeat("v", 100)
		}
		recs[i] = sdk.Record{Object: "users", Key: fmt.Sprintf("user-%06d", i), Version: sdk.Version{Source: at}, ContentHash: "h", Fields: fields}
	}
	results := make([]sdk.Result, len(recs))
	b.ReportAllocs()
	for range b.N {
		items := prepare(recs, results)
		req := &destpb.WriteRequest{Tenant: "acme", Records: make([]*destpb.Record, len(items))}
		for i, it := range items {
			req.Records[i] = it.rec
		}
		wire, err := proto.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		var got destpb.WriteRequest
		if err := proto.Unmarshal(wire, &got); err != nil {
			b.Fatal(err)
		}
		for _, r := range got.Records {
			if _, err := destpb.DecodeFields(r.Fields); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}

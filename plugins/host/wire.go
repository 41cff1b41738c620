package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/zclconf/go-cty/cty"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"

	destpb "github.com/siphonhq/siphon/plugins/proto"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// wireErr turns a plugin's in-band error back into the error it returned:
// Permanent and ErrUnsupported survive the trip.
func wireErr(e *destpb.Error) error {
	if e == nil {
		return nil
	}
	err := errors.New(e.Message)
	switch e.Kind {
	case destpb.ErrorKind_ERROR_KIND_PERMANENT:
		return sdk.Permanent(err)
	case destpb.ErrorKind_ERROR_KIND_UNSUPPORTED:
		return fmt.Errorf("%s: %w", e.Message, sdk.ErrUnsupported)
	}
	return err
}

func infoFromWire(r *destpb.InfoResponse) sdk.Info {
	info := sdk.Info{Name: r.Name, Version: r.Version}
	for _, c := range r.Capabilities {
		info.Capabilities = append(info.Capabilities, sdk.Capability(c))
	}
	return info
}

func versionToWire(v sdk.Version) *destpb.Version {
	return &destpb.Version{SourceUnixMicros: destpb.MicrosOf(v.Source), Generation: v.Generation, Seq: v.Seq}
}

func versionFromWire(v *destpb.Version) sdk.Version {
	if v == nil {
		return sdk.Version{}
	}
	return sdk.Version{Source: destpb.TimeOfMicros(v.SourceUnixMicros), Generation: v.Generation, Seq: v.Seq}
}

// recordsToWire encodes records for one Write. The records, their versions
// and their fields share a few allocations per batch instead of several
// per record. A record whose fields cannot be encoded is reported in errs
// (by index) and left nil.
func recordsToWire(records []sdk.Record, idx []int) (out []*destpb.Record, errs map[int]error) {
	recs := make([]destpb.Record, len(idx))
	versions := make([]destpb.Version, len(idx))
	out = make([]*destpb.Record, len(idx))
	var buf []byte
	for j, i := range idx {
		r := &records[i]
		start := len(buf)
		var err error
		if buf, err = destpb.AppendFields(buf, r.Fields); err != nil {
			if errs == nil {
				errs = map[int]error{}
			}
			errs[i] = err
			buf = buf[:start]
			continue
		}
		if start == 0 && len(idx) > 1 {
			// Size the shared buffer from the first record: batches are
			// usually records of one shape.
			grown := make([]byte, len(buf), len(buf)*len(idx)*5/4+4096)
			copy(grown, buf)
			buf = grown
		}
		versions[j] = destpb.Version{SourceUnixMicros: destpb.MicrosOf(r.Version.Source), Generation: r.Version.Generation, Seq: r.Version.Seq}
		w := &recs[j]
		w.Op = destpb.Op(r.Op)
		w.Object = r.Object
		w.Key = r.Key
		w.Version = &versions[j]
		w.ContentHash = r.ContentHash
		w.Fields = buf[start:len(buf):len(buf)]
		w.IdempotencyKey = r.IdempotencyKey
		if r.Expect != nil {
			w.Expect = destpb.ExpectKind(r.Expect.Kind)
			w.ExpectVersion = versionToWire(r.Expect.Version)
		}
		out[j] = w
	}
	return out, errs
}

func rowsFromWire(rows []*destpb.Row) ([]sdk.Row, error) {
	out := make([]sdk.Row, len(rows))
	for i, r := range rows {
		fields, err := destpb.DecodeFields(r.Fields)
		if err != nil {
			return nil, fmt.Errorf("row %s: %w", r.Key, err)
		}
		out[i] = sdk.Row{Key: r.Key, Version: versionFromWire(r.Version), ContentHash: r.ContentHash, Tombstone: r.Tombstone, Fields: fields}
	}
	return out, nil
}

// configure sends cfg; an error is a failure to deliver it, diagnostics are
// the plugin's verdict.
func configure(ctx context.Context, rpc destpb.DestinationClient, cfg sdk.Config) (sdk.Diagnostics, error) {
	val := cfg.Value
	if val.Type() == cty.NilType {
		val = cty.EmptyObjectVal
	}
	val, _ = val.UnmarkDeep()
	b, err := ctymsgpack.Marshal(val, cty.DynamicPseudoType)
	if err != nil {
		return sdk.Errorf(nil, "encode config: %v", err), nil
	}
	resp, err := rpc.Configure(ctx, &destpb.ConfigureRequest{ConfigMsgpack: b})
	if err != nil {
		return nil, err
	}
	if err := wireErr(resp.Error); err != nil {
		return sdk.Errorf(nil, "%v", err), nil
	}
	diags := make(sdk.Diagnostics, len(resp.Diagnostics))
	for i, d := range resp.Diagnostics {
		sev := sdk.SeverityError
		if d.Severity == destpb.Severity_SEVERITY_WARNING {
			sev = sdk.SeverityWarning
		}
		diags[i] = sdk.Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, Path: d.Path}
	}
	return diags, nil
}

// ensureObject returns the plugin's verdict and, apart, a transport error.
func ensureObject(ctx context.Context, rpc destpb.DestinationClient, obj sdk.ObjectSpec) (verdict, err error) {
	req := &destpb.EnsureObjectRequest{Object: obj.Object, Fields: make([]*destpb.FieldSpec, len(obj.Fields))}
	for i, f := range obj.Fields {
		req.Fields[i] = &destpb.FieldSpec{Name: f.Name, Type: string(f.Type)}
	}
	resp, err := rpc.EnsureObject(ctx, req)
	if err != nil {
		return nil, err
	}
	return wireErr(resp.Error), nil
}

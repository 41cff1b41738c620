package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/zclconf/go-cty/cty"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"

	destpb "github.com/siphonhq/siphon/plugins/proto"
)

var errServeOnly = errors.New("sdk: this plugin type only serves; the host has its own client")

// grpcServer adapts a Destination to the gRPC service. Failures of the work
// go back in-band (destpb.Error) so that a gRPC error always means the
// transport or the process failed.
type grpcServer struct {
	destpb.UnimplementedDestinationServer
	impl Destination
}

func (s *grpcServer) Info(context.Context, *destpb.InfoRequest) (*destpb.InfoResponse, error) {
	info := s.impl.Info()
	caps := make([]string, len(info.Capabilities))
	for i, c := range info.Capabilities {
		caps[i] = string(c)
	}
	return &destpb.InfoResponse{Name: info.Name, Version: info.Version, Capabilities: caps}, nil
}

func (s *grpcServer) Configure(ctx context.Context, req *destpb.ConfigureRequest) (*destpb.ConfigureResponse, error) {
	val := cty.EmptyObjectVal
	if len(req.ConfigMsgpack) > 0 {
		v, err := ctymsgpack.Unmarshal(req.ConfigMsgpack, cty.DynamicPseudoType)
		if err != nil {
			return &destpb.ConfigureResponse{Error: wireError(fmt.Errorf("decode config: %w", err))}, nil
		}
		val = v
	}
	diags := s.impl.Configure(ctx, Config{Value: val})
	out := make([]*destpb.Diagnostic, len(diags))
	for i, d := range diags {
		sev := destpb.Severity_SEVERITY_ERROR
		if d.Severity == SeverityWarning {
			sev = destpb.Severity_SEVERITY_WARNING
		}
		out[i] = &destpb.Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, Path: d.Path}
	}
	return &destpb.ConfigureResponse{Diagnostics: out}, nil
}

func (s *grpcServer) Check(ctx context.Context, req *destpb.CheckRequest) (*destpb.CheckResponse, error) {
	return &destpb.CheckResponse{Error: wireError(s.impl.Check(ctx, req.Tenant))}, nil
}

func (s *grpcServer) EnsureObject(ctx context.Context, req *destpb.EnsureObjectRequest) (*destpb.EnsureObjectResponse, error) {
	spec := ObjectSpec{Object: req.Object, Fields: make([]FieldSpec, len(req.Fields))}
	for i, f := range req.Fields {
		spec.Fields[i] = FieldSpec{Name: f.Name, Type: FieldType(f.Type)}
	}
	return &destpb.EnsureObjectResponse{Error: wireError(s.impl.EnsureObject(ctx, spec))}, nil
}

func (s *grpcServer) Write(ctx context.Context, req *destpb.WriteRequest) (*destpb.WriteResponse, error) {
	batch := Batch{Tenant: req.Tenant, Records: make([]Record, len(req.Records))}
	for i, r := range req.Records {
		rec, err := recordFromWire(r)
		if err != nil {
			// The host encoded it, so this is a bug, not a bad record:
			// report it as permanent so the host isolates the record.
			return &destpb.WriteResponse{Error: wireError(Permanent(fmt.Errorf("record %d (%s/%s): %w", i, r.Object, r.Key, err)))}, nil
		}
		batch.Records[i] = rec
	}
	results, err := s.impl.Write(ctx, batch)
	if err != nil {
		return &destpb.WriteResponse{Error: wireError(err)}, nil
	}
	resp := &destpb.WriteResponse{Statuses: make([]destpb.Status, len(results)), Skipped: make([]bool, len(results))}
	for i, r := range results {
		resp.Statuses[i] = destpb.Status(r.Status)
		resp.Skipped[i] = r.Skipped
		if r.Message != "" {
			if resp.Messages == nil {
				resp.Messages = map[int32]string{}
			}
			resp.Messages[int32(i)] = r.Message
		}
	}
	return resp, nil
}

func (s *grpcServer) Keys(req *destpb.KeysRequest, stream destpb.Destination_KeysServer) error {
	after := req.After
	for pages := int32(0); req.MaxPages == 0 || pages < req.MaxPages; pages++ {
		entries, err := s.impl.Keys(stream.Context(), KeysRequest{Tenant: req.Tenant, Object: req.Object, After: after, Limit: int(req.Limit)})
		if err != nil {
			return stream.Send(&destpb.KeysPage{Error: wireError(err)})
		}
		page := &destpb.KeysPage{Entries: make([]*destpb.KeyEntry, len(entries))}
		for i, e := range entries {
			page.Entries[i] = &destpb.KeyEntry{Key: e.Key, Version: versionToWire(e.Version), ContentHash: e.ContentHash}
		}
		if err := stream.Send(page); err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		after = entries[len(entries)-1].Key
	}
	return nil
}

func (s *grpcServer) Read(ctx context.Context, req *destpb.ReadRequest) (*destpb.ReadResponse, error) {
	rows, err := s.impl.Read(ctx, req.Tenant, req.Object, req.Keys)
	if err != nil {
		return &destpb.ReadResponse{Error: wireError(err)}, nil
	}
	out, err := rowsToWire(rows)
	if err != nil {
		return &destpb.ReadResponse{Error: wireError(err)}, nil
	}
	return &destpb.ReadResponse{Rows: out}, nil
}

func (s *grpcServer) Changes(ctx context.Context, req *destpb.ChangesRequest) (*destpb.ChangesResponse, error) {
	page, err := s.impl.Changes(ctx, ChangesRequest{Tenant: req.Tenant, Object: req.Object, Since: req.Since, Limit: int(req.Limit)})
	if err != nil {
		return &destpb.ChangesResponse{Error: wireError(err)}, nil
	}
	out, err := rowsToWire(page.Rows)
	if err != nil {
		return &destpb.ChangesResponse{Error: wireError(err)}, nil
	}
	return &destpb.ChangesResponse{Rows: out, Next: page.Next}, nil
}

func (s *grpcServer) Close(ctx context.Context, _ *destpb.CloseRequest) (*destpb.CloseResponse, error) {
	return &destpb.CloseResponse{Error: wireError(s.impl.Close(ctx))}, nil
}

func wireError(err error) *destpb.Error {
	if err == nil {
		return nil
	}
	kind := destpb.ErrorKind_ERROR_KIND_UNSPECIFIED
	switch {
	case errors.Is(err, ErrUnsupported):
		kind = destpb.ErrorKind_ERROR_KIND_UNSUPPORTED
	case IsPermanent(err):
		kind = destpb.ErrorKind_ERROR_KIND_PERMANENT
	}
	return &destpb.Error{Message: err.Error(), Kind: kind}
}

func versionToWire(v Version) *destpb.Version {
	return &destpb.Version{SourceUnixMicros: destpb.MicrosOf(v.Source), Generation: v.Generation, Seq: v.Seq}
}

func versionFromWire(v *destpb.Version) Version {
	if v == nil {
		return Version{}
	}
	return Version{Source: destpb.TimeOfMicros(v.SourceUnixMicros), Generation: v.Generation, Seq: v.Seq}
}

func recordFromWire(r *destpb.Record) (Record, error) {
	fields, err := destpb.DecodeFields(r.Fields)
	if err != nil {
		return Record{}, err
	}
	rec := Record{
		Op:             Op(r.Op),
		Object:         r.Object,
		Key:            r.Key,
		Version:        versionFromWire(r.Version),
		ContentHash:    r.ContentHash,
		Fields:         fields,
		IdempotencyKey: r.IdempotencyKey,
	}
	if r.Expect != destpb.ExpectKind_EXPECT_NONE {
		rec.Expect = &Expect{Kind: ExpectKind(r.Expect), Version: versionFromWire(r.ExpectVersion)}
	}
	return rec, nil
}

func rowsToWire(rows []Row) ([]*destpb.Row, error) {
	out := make([]*destpb.Row, len(rows))
	for i, r := range rows {
		fields, err := destpb.EncodeFields(r.Fields)
		if err != nil {
			return nil, fmt.Errorf("row %s: %w", r.Key, err)
		}
		out[i] = &destpb.Row{Key: r.Key, Version: versionToWire(r.Version), ContentHash: r.ContentHash, Tombstone: r.Tombstone, Fields: fields}
	}
	return out, nil
}

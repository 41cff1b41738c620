package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

func flagField(kind state.FlagKind, scope string) string { return string(kind) + "|" + scope }

func (s *Store) SetFlag(ctx context.Context, tenant string, f state.Flag) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return fmt.Errorf("set flag %s %s: %w", tenant, f.Kind, err)
	}
	if f.At.IsZero() {
		f.At = time.Now().UTC()
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("set flag %s %s: %w", tenant, f.Kind, err)
	}
	if err := s.rdb.HSet(ctx, s.k.control(tenant), flagField(f.Kind, f.Scope), b).Err(); err != nil {
		return fmt.Errorf("set flag %s %s: %w", tenant, f.Kind, err)
	}
	return nil
}

func (s *Store) ClearFlag(ctx context.Context, tenant string, kind state.FlagKind, scope string) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return fmt.Errorf("clear flag %s %s: %w", tenant, kind, err)
	}
	if err := s.rdb.HDel(ctx, s.k.control(tenant), flagField(kind, scope)).Err(); err != nil {
		return fmt.Errorf("clear flag %s %s: %w", tenant, kind, err)
	}
	return nil
}

func (s *Store) Flags(ctx context.Context, tenant string) ([]state.Flag, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return nil, fmt.Errorf("flags %s: %w", tenant, err)
	}
	h, err := s.rdb.HGetAll(ctx, s.k.control(tenant)).Result()
	if err != nil {
		return nil, fmt.Errorf("flags %s: %w", tenant, err)
	}
	out := make([]state.Flag, 0, len(h))
	for field, v := range h {
		var f state.Flag
		if err := json.Unmarshal([]byte(v), &f); err != nil {
			return nil, fmt.Errorf("flags %s %s: %w", tenant, field, err)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b state.Flag) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Scope, b.Scope))
	})
	return out, nil
}

// Credential errors never include the blob.
func (s *Store) PutCredential(ctx context.Context, tenant string, sealed []byte) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return fmt.Errorf("put credential %s: %w", tenant, err)
	}
	if err := s.rdb.Set(ctx, s.k.credential(tenant), sealed, 0).Err(); err != nil {
		return fmt.Errorf("put credential %s: %w", tenant, err)
	}
	return nil
}

func (s *Store) Credential(ctx context.Context, tenant string) ([]byte, error) {
	if err := state.CheckName("tenant", tenant); err != nil {
		return nil, fmt.Errorf("credential %s: %w", tenant, err)
	}
	b, err := s.rdb.Get(ctx, s.k.credential(tenant)).Bytes()
	if isNil(err) {
		return nil, fmt.Errorf("credential %s: %w", tenant, state.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("credential %s: %w", tenant, err)
	}
	return b, nil
}

func (s *Store) DeleteCredential(ctx context.Context, tenant string) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return fmt.Errorf("delete credential %s: %w", tenant, err)
	}
	if err := s.rdb.Del(ctx, s.k.credential(tenant)).Err(); err != nil {
		return fmt.Errorf("delete credential %s: %w", tenant, err)
	}
	return nil
}

func configOf(res []any) state.ConfigVersion {
	v, _ := strconv.ParseInt(asString(res[1]), 10, 64)
	cv := state.ConfigVersion{Version: v, Hash: asString(res[2]), ActivatedAt: parseUS(asString(res[3]))}
	if len(res) > 4 && asString(res[4]) != "" {
		cv.Summary = []byte(asString(res[4]))
	}
	return cv
}

func (s *Store) ActivateConfig(ctx context.Context, v state.ConfigVersion, force bool) (state.ConfigVersion, error) {
	if v.ActivatedAt.IsZero() {
		v.ActivatedAt = time.Now().UTC()
	}
	f := "0"
	if force {
		f = "1"
	}
	res, err := activateConfigScript.Run(ctx, s.rdb, []string{s.k.config(), s.k.superseded()}, v.Version, v.Hash, us(v.ActivatedAt), f, v.Summary).Slice()
	if err != nil {
		return state.ConfigVersion{}, fmt.Errorf("activate config %d: %w", v.Version, err)
	}
	cur := configOf(res)
	if asInt(res[0]) != 1 {
		return cur, fmt.Errorf("activate config %d: %w: version %d (%s) is not newer than active %d (%s); use force",
			v.Version, state.ErrSuperseded, v.Version, v.Hash, cur.Version, cur.Hash)
	}
	return cur, nil
}

func (s *Store) ActiveConfig(ctx context.Context) (state.ConfigVersion, bool, error) {
	h, err := s.rdb.HMGet(ctx, s.k.config(), "version", "hash", "at", "summary").Result()
	if err != nil {
		return state.ConfigVersion{}, false, fmt.Errorf("active config: %w", err)
	}
	if h[0] == nil {
		return state.ConfigVersion{}, false, nil
	}
	return configOf(append([]any{nil}, h...)), true, nil
}

// AppendAudit writes the tenant's log and then the hub's: two slots, so two
// steps, each safe to retry. An entry with a Region writes the hub's only.
func (s *Store) AppendAudit(ctx context.Context, e state.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	fields := []any{opTTL, "tenant", e.Tenant, "at", us(e.At), "who", e.Who, "action", e.Action, "detail", e.Detail}
	if e.Region != "" {
		// The hub's entry of a regional tenant names it: no tenant, no entry.
		if err := state.CheckName("tenant", e.Tenant); err != nil {
			return fmt.Errorf("audit %s (region %s): %w", e.Action, e.Region, err)
		}
		fields = append(fields, "region", e.Region)
	}
	if e.Tenant != "" && e.Region == "" {
		if err := state.CheckName("tenant", e.Tenant); err != nil {
			return fmt.Errorf("audit %s %s: %w", e.Tenant, e.Action, err)
		}
		if err := appendAuditScript.Run(ctx, s.rdb, []string{s.k.op(e.Tenant, newID()), s.k.audit(e.Tenant)}, fields...).Err(); err != nil {
			return fmt.Errorf("audit %s %s: %w", e.Tenant, e.Action, err)
		}
	}
	if err := appendAuditScript.Run(ctx, s.rdb, []string{s.k.hubOp(newID()), s.k.hubAudit()}, fields...).Err(); err != nil {
		return fmt.Errorf("audit %s %s: hub log: %w", e.Tenant, e.Action, err)
	}
	return nil
}

func (s *Store) Audit(ctx context.Context, tenant, after string, limit int) ([]state.AuditEntry, string, error) {
	key := s.k.hubAudit()
	if tenant != "" {
		if err := state.CheckName("tenant", tenant); err != nil {
			return nil, "", fmt.Errorf("audit list %s: %w", tenant, err)
		}
		key = s.k.audit(tenant)
	}
	msgs, next, err := s.streamPage(ctx, key, after, limit)
	if err != nil {
		return nil, "", fmt.Errorf("audit list %s: %w", tenant, err)
	}
	out := make([]state.AuditEntry, len(msgs))
	for i, m := range msgs {
		v := func(k string) string { return asString(m.Values[k]) }
		out[i] = state.AuditEntry{ID: m.ID, Tenant: v("tenant"), Region: v("region"), At: parseUS(v("at")), Who: v("who"), Action: v("action"), Detail: v("detail")}
	}
	return out, next, nil
}

// ScanPages walks the scan's hash with HSCAN, a few pages per round trip,
// so a huge scan never loads at once.
func (s *Store) ScanPages(ctx context.Context, tenant, resource, scanID string, fn func(page int64, ids []string) error) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return fmt.Errorf("scan %s/%s %s: %w", tenant, resource, scanID, err)
	}
	key := s.k.scan(tenant, resource, scanID)
	// HSCAN may return a field twice while the hash is rehashed.
	seen := map[string]bool{}
	var cursor uint64
	for {
		kv, next, err := s.rdb.HScan(ctx, key, cursor, "", 16).Result()
		if err != nil {
			return fmt.Errorf("scan %s/%s %s: %w", tenant, resource, scanID, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if seen[kv[i]] {
				continue
			}
			seen[kv[i]] = true
			page, _ := strconv.ParseInt(kv[i], 10, 64)
			ids, err := state.DecodeIDs([]byte(kv[i+1]))
			if err != nil {
				return fmt.Errorf("scan %s/%s %s page %d: %w", tenant, resource, scanID, page, err)
			}
			if err := fn(page, ids); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func (s *Store) DeleteScan(ctx context.Context, tenant, resource, scanID string) error {
	if err := state.CheckName("tenant", tenant); err != nil {
		return fmt.Errorf("delete scan %s/%s %s: %w", tenant, resource, scanID, err)
	}
	if err := s.rdb.Unlink(ctx, s.k.scan(tenant, resource, scanID)).Err(); err != nil {
		return fmt.Errorf("delete scan %s/%s %s: %w", tenant, resource, scanID, err)
	}
	return nil
}

package dsl

import (
	"fmt"
	"sort"
)

// Summary is what a hub records of the configuration it runs (with the
// config version, at activation), so that `siphon plan --store` can show an
// operator what a new configuration changes before it rolls out: which
// tenants run, each tenant's pipelines and their cadences, and each
// pipeline's resource, destination and mapping.
type Summary struct {
	ConfigHash string                     `json:"config_hash"`
	Tenants    map[string]TenantSummary   `json:"tenants"`
	Pipelines  map[string]PipelineSummary `json:"pipelines"`
}

// TenantSummary is one tenant in a Summary.
type TenantSummary struct {
	Enabled bool `json:"enabled"`
	// Cadences maps each pipeline the tenant runs (after rollouts) to the
	// cadence of the job that polls it ("5m").
	Cadences map[string]string `json:"cadences"`
}

// PipelineSummary is one pipeline in a Summary.
type PipelineSummary struct {
	Resource    string `json:"resource"`
	Destination string `json:"destination"`
	MappingHash string `json:"mapping_hash"`
}

// Summary summarises the plan.
func (p *Plan) Summary() Summary {
	s := Summary{ConfigHash: p.ConfigHash, Tenants: map[string]TenantSummary{}, Pipelines: map[string]PipelineSummary{}}
	for _, pl := range p.Pipelines {
		s.Pipelines[pl.Name] = PipelineSummary{Resource: pl.Resource, Destination: pl.Destination, MappingHash: pl.MappingHash}
	}
	for _, t := range p.Tenants {
		ts := TenantSummary{Enabled: t.Enabled, Cadences: map[string]string{}}
		for _, j := range t.Jobs {
			for _, name := range j.Pipelines {
				ts.Cadences[name] = j.Cadence.String()
			}
		}
		s.Tenants[t.ID] = ts
	}
	return s
}

// Change kinds, in the order a diff lists them.
const (
	PipelineAdded         = "pipeline added"
	PipelineRemoved       = "pipeline removed"
	MappingChanged        = "mapping changed"
	DestinationChanged    = "destination changed"
	ResourceChanged       = "resource changed"
	TenantAdded           = "tenant added"
	TenantRemoved         = "tenant removed"
	TenantEnabled         = "tenant enabled"
	TenantDisabled        = "tenant disabled"
	TenantPipelineAdded   = "tenant pipeline added"
	TenantPipelineRemoved = "tenant pipeline removed"
	CadenceChanged        = "cadence changed"
)

// Change is one difference between the configuration a store last ran and
// a new one. From and To are the old and new values where there are any
// (a mapping hash, a destination, a cadence).
type Change struct {
	Kind     string `json:"kind"`
	Tenant   string `json:"tenant,omitempty"`
	Pipeline string `json:"pipeline,omitempty"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
}

// String describes the change in a line.
func (c Change) String() string {
	switch c.Kind {
	case PipelineAdded, PipelineRemoved:
		return fmt.Sprintf("%s %s", c.Kind, c.Pipeline)
	case MappingChanged, DestinationChanged, ResourceChanged:
		return fmt.Sprintf("pipeline %s: %s %s → %s", c.Pipeline, c.Kind, c.From, c.To)
	case TenantAdded, TenantRemoved, TenantEnabled, TenantDisabled:
		return fmt.Sprintf("%s %s", c.Kind, c.Tenant)
	case TenantPipelineAdded:
		return fmt.Sprintf("tenant %s: pipeline %s added (every %s)", c.Tenant, c.Pipeline, c.To)
	case TenantPipelineRemoved:
		return fmt.Sprintf("tenant %s: pipeline %s removed", c.Tenant, c.Pipeline)
	case CadenceChanged:
		return fmt.Sprintf("tenant %s: pipeline %s cadence %s → %s", c.Tenant, c.Pipeline, c.From, c.To)
	}
	return c.Kind
}

// Diff lists what changes from the summary old to new: pipelines first,
// then tenants, each in name order. A pipeline's mapping hash is shown
// shortened, as plan shows hashes.
func Diff(old, new Summary) []Change {
	var out []Change
	for _, name := range unionKeys(old.Pipelines, new.Pipelines) {
		o, inOld := old.Pipelines[name]
		n, inNew := new.Pipelines[name]
		switch {
		case !inOld:
			out = append(out, Change{Kind: PipelineAdded, Pipeline: name})
		case !inNew:
			out = append(out, Change{Kind: PipelineRemoved, Pipeline: name})
		default:
			if o.Resource != n.Resource {
				out = append(out, Change{Kind: ResourceChanged, Pipeline: name, From: o.Resource, To: n.Resource})
			}
			if o.Destination != n.Destination {
				out = append(out, Change{Kind: DestinationChanged, Pipeline: name, From: o.Destination, To: n.Destination})
			}
			if o.MappingHash != n.MappingHash {
				out = append(out, Change{Kind: MappingChanged, Pipeline: name, From: shortHash(o.MappingHash), To: shortHash(n.MappingHash)})
			}
		}
	}
	for _, id := range unionKeys(old.Tenants, new.Tenants) {
		o, inOld := old.Tenants[id]
		n, inNew := new.Tenants[id]
		switch {
		case !inOld:
			out = append(out, Change{Kind: TenantAdded, Tenant: id})
			continue
		case !inNew:
			out = append(out, Change{Kind: TenantRemoved, Tenant: id})
			continue
		case o.Enabled && !n.Enabled:
			out = append(out, Change{Kind: TenantDisabled, Tenant: id})
		case !o.Enabled && n.Enabled:
			out = append(out, Change{Kind: TenantEnabled, Tenant: id})
		}
		for _, p := range unionKeys(o.Cadences, n.Cadences) {
			oc, inOld := o.Cadences[p]
			nc, inNew := n.Cadences[p]
			switch {
			case !inOld:
				out = append(out, Change{Kind: TenantPipelineAdded, Tenant: id, Pipeline: p, To: nc})
			case !inNew:
				out = append(out, Change{Kind: TenantPipelineRemoved, Tenant: id, Pipeline: p, From: oc})
			case oc != nc:
				out = append(out, Change{Kind: CadenceChanged, Tenant: id, Pipeline: p, From: oc, To: nc})
			}
		}
	}
	return out
}

// unionKeys returns the keys of both maps, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// shortHash is a hash as plan shows it.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

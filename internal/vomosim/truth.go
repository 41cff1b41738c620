package vomosim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// TruthResources are the resources Truth can dump. project_dates carry
// their participants; group_members and form_completions are the child
// lists of every group and form.
var TruthResources = []string{"users", "projects", "project_dates", "groups", "group_members",
	"campaigns", "organizations", "forms", "form_completions", "certificates"}

// Truth is the complete state of one resource of one tenant at one API
// instant: every visible record, exactly as the list endpoint writes it
// (all fields, updated_at included), in id order. Keys[i] is the canonical
// key of Records[i]: the id, or "parent/child" for child resources.
type Truth struct {
	Tenant   string            `json:"tenant"`
	Resource string            `json:"resource"`
	AsOf     time.Time         `json:"as_of"`
	Keys     []string          `json:"keys"`
	Records  []json.RawMessage `json:"records"`
}

// Truth dumps a resource of a tenant after applying every change due now.
// Writes still in flight (late-visible) are not in it, as they are not in
// the API's answers either.
func (s *Server) Truth(tenantID, resource string) (Truth, error) {
	t, err := s.tenant(tenantID)
	if err != nil {
		return Truth{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := s.apiNow()
	t.advance(micros(now))
	tr := Truth{Tenant: t.id, Resource: resource, AsOf: now.UTC()}
	addRec := func(key string, rec []byte) {
		tr.Keys = append(tr.Keys, key)
		tr.Records = append(tr.Records, rec)
	}
	id := func(v int64) string { return strconv.FormatInt(v, 10) }
	switch resource {
	case "users":
		for _, pos := range t.users.visible() {
			addRec(id(t.users.ids[pos]), t.appendUser(nil, pos, false))
		}
	case "projects":
		for _, pos := range t.projects.visible() {
			addRec(id(t.projects.ids[pos]), t.appendProject(nil, pos))
		}
	case "project_dates":
		for _, pos := range t.projects.visible() {
			for k := 1; k <= int(t.projects.rows[pos].dates); k++ {
				addRec(id(projectDateID(t.projects.ids[pos], k)), t.appendProjectDate(nil, pos, k))
			}
		}
	case "groups":
		for _, pos := range t.groups.visible() {
			addRec(id(t.groups.ids[pos]), t.appendGroup(nil, pos))
		}
	case "group_members":
		for _, pos := range t.groups.visible() {
			gid := t.groups.ids[pos]
			for _, uid := range t.groupMembers(pos) {
				addRec(id(gid)+"/"+id(uid), t.appendMember(nil, gid, uid))
			}
		}
	case "campaigns":
		for _, pos := range t.campaigns.visible() {
			addRec(id(t.campaigns.ids[pos]), t.appendCampaign(nil, pos))
		}
	case "organizations":
		addRec(id(t.org.id), t.appendOrganization(nil))
	case "forms":
		for _, pos := range t.forms.visible() {
			addRec(id(t.forms.ids[pos]), t.appendForm(nil, pos))
		}
	case "form_completions":
		for _, pos := range t.forms.visible() {
			fid := t.forms.ids[pos]
			for k := 1; k <= int(t.forms.rows[pos].completions); k++ {
				addRec(id(fid)+"/"+id(completionID(fid, k)), t.appendCompletion(nil, pos, k))
			}
		}
	case "certificates":
		for _, pos := range t.certificates.visible() {
			addRec(id(t.certificates.ids[pos]), t.appendCertificate(nil, pos))
		}
	default:
		return Truth{}, fmt.Errorf("vomosim: truth: unknown resource %q (have %v)", resource, TruthResources)
	}
	return tr, nil
}

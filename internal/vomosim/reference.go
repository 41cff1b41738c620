package vomosim

import "net/http"

// Reference data: resources without time filters, which a client must
// scan in full.

func (s *Server) listCampaigns(t *tenant, r *http.Request) reply {
	return listTable(s, t, r, &t.campaigns, false, nil, t.appendCampaign)
}

// listOrganizations returns the token's own organization, paginated like
// every list.
func (s *Server) listOrganizations(t *tenant, r *http.Request) reply {
	return listSlice(s, r, []int{0}, func(b []byte, _ int) []byte { return t.appendOrganization(b) })
}

func (s *Server) listForms(t *tenant, r *http.Request) reply {
	return listTable(s, t, r, &t.forms, false, nil, t.appendForm)
}

func (s *Server) listCompletions(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	pos := t.forms.pathRow(r)
	if pos < 0 {
		return notFound("Form", r.PathValue("id"))
	}
	ks := make([]int, t.forms.rows[pos].completions)
	for i := range ks {
		ks[i] = i + 1
	}
	return listSlice(s, r, ks, func(b []byte, k int) []byte { return t.appendCompletion(b, pos, k) })
}

func (s *Server) showCompletion(t *tenant, r *http.Request) reply {
	t.advance(micros(s.apiNow()))
	pos := t.forms.pathRow(r)
	if pos < 0 {
		return notFound("Form", r.PathValue("id"))
	}
	cid, ok := pathID(r, "completion")
	fid, k := splitCompletionID(cid)
	if !ok || fid != t.forms.ids[pos] || k < 1 || k > int(t.forms.rows[pos].completions) {
		return notFound("FormCompletion", r.PathValue("completion"))
	}
	return wrapData(http.StatusOK, t.appendCompletion(nil, pos, k))
}

func (s *Server) listCertificates(t *tenant, r *http.Request) reply {
	return listTable(s, t, r, &t.certificates, false, nil, t.appendCertificate)
}

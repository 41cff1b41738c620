package vomosim

import (
	"fmt"
	"math"
)

// Vanish deletes a share (0 < share <= 1) of a tenant's live users at once,
// spread evenly over the id range, and returns how many it deleted. It is
// what a client sees when a token starts answering for another
// organization, or a bulk delete runs at the source: the reconcile's
// mass-delete safeguard must stop at it. Users and forms can vanish (a
// vanished form's completions answer 404, as a parent deleted mid-scan).
func (s *Server) Vanish(tenantID, resource string, share float64) (int, error) {
	if resource != "users" && resource != "forms" {
		return 0, fmt.Errorf("vomosim: vanish: only users and forms can vanish, not %q", resource)
	}
	if !(share > 0 && share <= 1) {
		return 0, fmt.Errorf("vomosim: vanish: share %g is not in (0, 1]", share)
	}
	t, err := s.tenant(tenantID)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance(micros(s.apiNow()))
	if resource == "forms" {
		return vanish(&t.forms, share, t.forms.remove), nil
	}
	return vanish(&t.users, share, t.deleteUser), nil
}

// vanish removes the share of tb's live rows with del.
func vanish[T any](tb *table[T], share float64, del func(pos int)) int {
	// Ids first: removing rows may compact the table and move positions.
	var ids []int64
	for i, pos := range tb.visible() {
		if math.Floor(float64(i+1)*share) > math.Floor(float64(i)*share) && !tb.locked[pos] {
			ids = append(ids, tb.ids[pos])
		}
	}
	for _, id := range ids {
		if pos := tb.find(id); pos >= 0 {
			del(pos)
		}
	}
	return len(ids)
}

package vomosim

import (
	"fmt"
	"math"
)

// Vanish deletes a share (0 < share <= 1) of a tenant's live users at once,
// spread evenly over the id range, and returns how many it deleted. It is
// what a client sees when a token starts answering for another
// organization, or a bulk delete runs at the source: the reconcile's
// mass-delete safeguard must stop at it. Only "users" can vanish.
func (s *Server) Vanish(tenantID, resource string, share float64) (int, error) {
	if resource != "users" {
		return 0, fmt.Errorf("vomosim: vanish: only users can vanish, not %q", resource)
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
	// Ids first: removing rows may compact the table and move positions.
	var ids []int64
	for i, pos := range t.users.visible() {
		if math.Floor(float64(i+1)*share) > math.Floor(float64(i)*share) && !t.users.locked[pos] {
			ids = append(ids, t.users.ids[pos])
		}
	}
	for _, id := range ids {
		if pos := t.users.find(id); pos >= 0 {
			t.deleteUser(pos)
		}
	}
	return len(ids), nil
}

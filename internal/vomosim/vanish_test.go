package vomosim

import "testing"

// A vanish over HTTP deletes the share asked for, spread over the ids, and
// refuses what it cannot do.
func TestVanish(t *testing.T) {
	srv, hs, _ := start(t, quiet(100))
	ctl := hs.URL + "/_sim/tenants/t001/vanish"
	if status, _, b := call(t, "POST", ctl, "", `{"resource":"users","share":0.3}`); status != 200 {
		t.Fatalf("vanish: %d %s", status, b)
	}
	tr, err := srv.Truth("t001", "users")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Keys) != 70 {
		t.Errorf("%d users left of 100 after 30%% vanished", len(tr.Keys))
	}
	if p := getPage(t, hs.URL+"/v1/users", token(t, srv, "t001")); p.Meta.Total != 70 {
		t.Errorf("the list still counts %d", p.Meta.Total)
	}
	if n, err := srv.Vanish("t001", "forms", 1); err != nil || n == 0 {
		t.Fatalf("vanish forms: %d %v", n, err)
	}
	if tr, err := srv.Truth("t001", "forms"); err != nil || len(tr.Keys) != 0 {
		t.Errorf("forms left: %d %v", len(tr.Keys), err)
	}
	for _, body := range []string{`{"resource":"projects","share":0.3}`, `{"resource":"users","share":1.5}`, `{"resource":"users","share":0}`} {
		if status, _, _ := call(t, "POST", ctl, "", body); status != 400 {
			t.Errorf("%s: %d", body, status)
		}
	}
}

package vomosim

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestEnvelopeGolden pins the exact bytes of the paginator envelope, single
// records and error bodies. Refresh with `go test -run Golden -update`.
func TestEnvelopeGolden(t *testing.T) {
	srv, hs, _ := start(t, quiet(40))
	tok := token(t, srv, "t001")
	cases := []struct{ name, method, path, tok, body string }{
		{"users_first_page", "GET", "/v1/users", tok, ""},
		{"users_last_page", "GET", "/v1/users?page=3", tok, ""},
		{"users_past_last", "GET", "/v1/users?page=9", tok, ""},
		{"users_filtered", "GET", "/v1/users?updated_after=2024-01-01&name_like=an&page=1", tok, ""},
		{"users_empty_filter", "GET", "/v1/users?created_before=2000-01-01", tok, ""},
		{"user_detail", "GET", "/v1/users/1", tok, ""},
		{"user_not_found", "GET", "/v1/users/4040", tok, ""},
		{"unauthenticated", "GET", "/v1/users", "", ""},
		{"bad_filter", "GET", "/v1/users?updated_after=yesterday&created_before=2026-13-45", tok, ""},
		{"upsert_invalid", "POST", "/v1/users", tok, `{"email":"not-an-email","gender":"X"}`},
		{"organizations", "GET", "/v1/organizations", tok, ""},
		{"project_date", "GET", "/v1/projects/date/1001", tok, ""},
		{"form_completions", "GET", "/v1/forms/1/completions", tok, ""},
		{"unknown_route", "GET", "/v1/volunteers", tok, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := call(t, c.method, hs.URL+c.path, c.tok, c.body)
			var got bytes.Buffer
			got.WriteString(c.method + " " + c.path + "\n")
			got.WriteString("status: " + itoa(status) + "\n")
			for _, k := range []string{"Content-Type", "Date"} {
				got.WriteString(k + ": " + h.Get(k) + "\n")
			}
			got.WriteString("\n")
			got.Write(bytes.ReplaceAll(body, []byte(strings.ReplaceAll(hs.URL, "/", `\/`)), []byte(`http:\/\/vomo.test`)))
			got.WriteString("\n")
			file := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from %s:\n got: %s\nwant: %s", c.name, file, got.Bytes(), want)
			}
		})
	}
}

func itoa(v int) string { return strconv.Itoa(v) }

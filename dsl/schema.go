package dsl

import "strings"

// vomoUserSchema is a VOMO volunteer (GET /users) as VOMO-API.md lists it.
// birthday is a plain date, not an instant, so it stays a string.
var vomoUserSchema = map[string]string{
	"type":              "string",
	"id":                "number",
	"first_name":        "string",
	"last_name":         "string",
	"full_name":         "string",
	"email":             "string",
	"address":           "json",
	"phone":             "string",
	"birthday":          "string",
	"gender":            "string",
	"user_status":       "string",
	"membership_status": "string",
	"membership_role":   "string",
	"created_at":        "timestamp",
	"updated_at":        "timestamp",
}

// vomoParticipationSchema is one participant of a project date
// (GET /projects/date/{id}).
var vomoParticipationSchema = map[string]string{
	"user_id":         "number",
	"signed_up_at":    "timestamp",
	"checked_in_at":   "timestamp",
	"checked_out_at":  "timestamp",
	"hours":           "number",
	"verified":        "bool",
	"role":            "string",
	"guests":          "number",
	"project_id":      "number",
	"project_date_id": "number",
}

// builtinSchema returns the known field types of a resource read from a
// source of the given kind at path, or nil when Siphon knows none (the
// resource is untyped unless it declares a schema). With a schema, plan
// checks every record.x a mapping reads, so a typo is a plan error rather
// than a dead-letter queue full of nulls. The returned map is shared:
// callers must not modify it.
func builtinSchema(sourceKind, path string) map[string]string {
	if sourceKind != "vomo" {
		return nil
	}
	p := strings.TrimSuffix(path, "/")
	switch {
	case p == "/users":
		return vomoUserSchema
	case strings.HasPrefix(p, "/projects/date/") && strings.Count(p, "/") == 3,
		strings.HasSuffix(p, "/participations"), strings.HasSuffix(p, "/participants"):
		return vomoParticipationSchema
	}
	return nil
}

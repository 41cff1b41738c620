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

// The other VOMO resources. VOMO-API.md lists the fields of users and
// participations only; these are the fields vomosim serves for the rest,
// which follows the published reference's examples. Plain dates
// (start_date, issued_on, ...) stay strings, as birthday does.
var (
	vomoProjectSchema = map[string]string{
		"type": "string", "id": "number", "organization_id": "number", "campaign_id": "number",
		"name": "string", "description": "string", "status": "string", "city": "string", "state": "string",
		"capacity": "number", "start_date": "string", "end_date": "string",
		"created_at": "timestamp", "updated_at": "timestamp",
	}
	vomoGroupSchema = map[string]string{
		"type": "string", "id": "number", "name": "string", "description": "string", "member_count": "number",
		"created_at": "timestamp", "updated_at": "timestamp",
	}
	vomoGroupMemberSchema = map[string]string{
		"type": "string", "group_id": "number", "user_id": "number", "first_name": "string", "last_name": "string",
		"email": "string", "membership_role": "string",
	}
	vomoCampaignSchema = map[string]string{
		"type": "string", "id": "number", "name": "string", "status": "string", "starts_on": "string",
		"ends_on": "string", "goal_hours": "number", "created_at": "timestamp", "updated_at": "timestamp",
	}
	vomoOrganizationSchema = map[string]string{
		"type": "string", "id": "number", "name": "string", "timezone": "string", "website": "string",
		"created_at": "timestamp", "updated_at": "timestamp",
	}
	vomoFormSchema = map[string]string{
		"type": "string", "id": "number", "name": "string", "project_id": "number", "status": "string",
		"completion_count": "number", "created_at": "timestamp", "updated_at": "timestamp",
	}
	// answers is the form's questions and their answers: an object whose
	// keys differ from form to form.
	vomoCompletionSchema = map[string]string{
		"type": "string", "id": "number", "form_id": "number", "user_id": "number", "submitted_at": "timestamp",
		"answers": "json", "created_at": "timestamp", "updated_at": "timestamp",
	}
	vomoCertificateSchema = map[string]string{
		"type": "string", "id": "number", "user_id": "number", "name": "string", "issued_on": "string",
		"expires_on": "string", "created_at": "timestamp", "updated_at": "timestamp",
	}
)

// vomoListSchemas are the schemas of VOMO lists by path, a "*" standing
// for any placeholder segment ("/forms/{form_id}/completions").
var vomoListSchemas = map[string]map[string]string{
	"/users":               vomoUserSchema,
	"/projects":            vomoProjectSchema,
	"/projects/today":      vomoProjectSchema,
	"/groups":              vomoGroupSchema,
	"/groups/*/members":    vomoGroupMemberSchema,
	"/campaigns":           vomoCampaignSchema,
	"/organizations":       vomoOrganizationSchema,
	"/forms":               vomoFormSchema,
	"/forms/*/completions": vomoCompletionSchema,
	"/certificates":        vomoCertificateSchema,
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
	if s, ok := vomoListSchemas[placeholdersAsStars(p)]; ok {
		return s
	}
	if strings.HasPrefix(p, "/projects/date/") && strings.Count(p, "/") == 3 ||
		strings.HasSuffix(p, "/participations") || strings.HasSuffix(p, "/participants") {
		return vomoParticipationSchema
	}
	return nil
}

// placeholdersAsStars turns each {placeholder} segment of a path into "*".
func placeholdersAsStars(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "*"
		}
	}
	return strings.Join(segs, "/")
}

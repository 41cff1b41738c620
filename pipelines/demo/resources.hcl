# What is read from VOMO. users and projects can be filtered by update time
# (cursor); forms cannot, so they are fully scanned each cycle, and each
# form's completions are read under it (parent/child). Projects and form
# completions share a cadence, so each tenant polls them in one job.
resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cadence     = "5m"
  cursor {
    field   = "updated_at"
    param   = "updated_after"
    overlap = "2m"
  }
}

resource "projects" {
  source  = source.vomo
  path    = "/projects"
  cadence = "15m"
  cursor {
    field = "updated_at"
    param = "updated_after"
  }
}

resource "forms" {
  source  = source.vomo
  path    = "/forms"
  cadence = "15m"
}

resource "form_completions" {
  source  = source.vomo
  path    = "/forms/{form_id}/completions"
  parent  = resource.forms
  cadence = "15m"
}

resource "users" {
  source = source.vomo
  path   = "/users"
  cursor {
    field = "updated_at"
    param = "updated_after"
  }
}

resource "dates" {
  source      = source.vomo
  path        = "/project_dates"
  primary_key = ["project_id", "id"]
}

resource "participations" {
  source      = source.vomo
  path        = "/projects/date/{date_id}"
  parent      = resource.dates
  parent_key  = record.id
  primary_key = ["project_date_id", "user_id"]
  cadence     = "10m"
}

destination "out" {
  plugin = "jsonl"
  config = { dir = "out" }
}

pipeline "volunteers" {
  resource    = resource.users
  destination = destination.out
  fields = {
    email = lower(coalesce(record.email, ""))
    phone = record.phone
  }
  direction = "both"
  authority = {
    "*"   = "source"
    phone = "destination"
  }
}

pipeline "hours" {
  resource    = resource.participations
  destination = destination.out
  delivery    = "direct"
  fields = {
    user_id = record.user_id
    hours   = record.hours
  }
}

tenant "acme" {
  timezone  = var.tenants.acme.zone
  cohort    = var.tenants.acme.cohort
  pipelines = [pipeline.volunteers, pipeline.hours]
}

tenant "globex" {
  timezone  = var.tenants.globex.zone
  pipelines = [pipeline.volunteers, pipeline.hours]
  cadence   = { hours = "1h" }
}

source "vomo" {
  base_url   = "http://127.0.0.1:8089/v1"
  rate_limit = "120/1m"
}

resource "users" {
  source  = source.vomo
  path    = "/users"
  cadence = "5m"
  cursor {
    field = "updated_at"
    param = "updated_after"
  }
}

destination "crm" {
  plugin = "sqlite"
  config = {
    path = ".siphon/crm.db"
  }
}

# Volunteers flow both ways: VOMO owns identity and status, the CRM owns
# contact details its staff correct. Every mapped field has an owner ("*"
# covers the rest); a destination-owned field that is transformed on the
# way in needs a reverse mapping to say what to write back.
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.crm
  direction   = "both"
  fields = {
    email      = lower(record.email)
    first_name = trimspace(record.first_name)
    last_name  = record.last_name
    phone      = record.phone
    status     = record.membership_status
  }
  authority = {
    email      = "source"
    first_name = "destination"
    phone      = "destination"
    "*"        = "source"
  }
  reverse = {
    first_name = trimspace(row.first_name)
  }
}

tenant "acme" {
  name      = "Acme Food Bank"
  timezone  = "America/Chicago"
  pipelines = [pipeline.volunteers]
}

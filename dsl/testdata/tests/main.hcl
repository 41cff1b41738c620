# The configuration the mapping tests under valid/ and invalid/ run against.
source "vomo" {
  kind     = "vomo"
  base_url = "http://127.0.0.1:8089/v1"
}

resource "people" {
  source      = source.vomo
  path        = "/people"
  primary_key = "id"
  cadence     = "5m"
}

destination "local" {
  plugin = "sqlite"
}

pipeline "volunteers" {
  resource    = resource.people
  destination = destination.local
  filter      = record.membership_status != "REMOVED"
  fields = {
    email     = lower(record.email)
    full_name = "${coalesce(record.first_name, "")} ${coalesce(record.last_name, "")}"
    phone     = record.phone
    org       = tenant.name
    city      = record.address.city
    score     = tonumber(record.score) * 2
  }
}

tenant "acme" {
  name      = "Acme Food Bank"
  pipelines = [pipeline.volunteers]
}

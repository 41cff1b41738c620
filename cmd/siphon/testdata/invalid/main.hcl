# A configuration with the mistakes people make: a misspelled attribute, a
# duration in words, and a reference to a source that does not exist.
source "vomo" {
  base_url   = "http://127.0.0.1:8089/v1"
  rate_limit = "60/1m"
}

resource "users" {
  source  = source.vomo
  path    = "/users"
  cadance = "5m"
}

resource "projects" {
  source  = source.vomoo
  path    = "/projects"
  cadence = "15 minutes"
}

destination "local" {
  plugin = "sqlite"
  config = {
    path = ".siphon/destination.db"
  }
}

pipeline "volunteers" {
  resource    = resource.users
  destination = destination.local
  fields = {
    email = record.email
  }
}

tenant "acme" {
  timezone  = "America/Chicago"
  pipelines = [pipeline.volunteers]
}

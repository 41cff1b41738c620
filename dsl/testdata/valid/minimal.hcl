# The least a configuration needs: defaults everywhere else.
source "vomo" {}

resource "users" {
  source = source.vomo
  path   = "/users"
}

destination "db" {
  plugin = "sqlite"
}

pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = { email = record.email }
}

tenant "acme" {
  pipelines = [pipeline.volunteers]
}

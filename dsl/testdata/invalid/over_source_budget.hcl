# error: tenant acme needs 120 requests/hour against source vomo
# at: over_source_budget.hcl:20
source "vomo" {
  rate_limit = "100/1h"
}
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
  fields = {
    email = record.email
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
  cadence = { volunteers = "30s" }
}

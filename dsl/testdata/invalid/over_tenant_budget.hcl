# error: tenant acme needs 60 requests/hour against source vomo but its rate_limit 10/1h allows 10
# at: over_tenant_budget.hcl:21
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
  fields = {
    email = record.email
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
  cadence    = { volunteers = "1m" }
  rate_limit = "10/1h"
}

# error: Cadence override for a pipeline the tenant does not run
# at: cadence_override_unknown_pipeline.hcl:20
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
  cadence = { volunteer = "5m" }
}

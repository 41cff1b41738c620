# error: Cadence too short
# at: pipeline_cadence_too_short.hcl:17
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
  cadence = "29s"
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

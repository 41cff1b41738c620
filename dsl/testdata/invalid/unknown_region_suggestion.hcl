# error: Did you mean "eu"
# at: unknown_region_suggestion.hcl:19
region "eu" {}
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
  region    = "ue"
}

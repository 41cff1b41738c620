# error: Missing authority
# at: both_without_authority.hcl:11
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
  direction   = "both"
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

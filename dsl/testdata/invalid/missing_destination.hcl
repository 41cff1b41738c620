# error: Reference to undeclared destination
# at: missing_destination.hcl:10
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.warehouse
  fields      = { email = record.email }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

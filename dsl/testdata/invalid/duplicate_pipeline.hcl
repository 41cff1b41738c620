# error: Duplicate pipeline "volunteers"
# at: duplicate_pipeline.hcl:21
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
# A resource and a pipeline may share a name; two pipelines may not.
resource "volunteers" {
  source = source.vomo
  path   = "/volunteers"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = { phone = record.phone }
}

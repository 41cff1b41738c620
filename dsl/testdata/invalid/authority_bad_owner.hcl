# error: Invalid value for authority.email
# at: authority_bad_owner.hcl:18
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
  direction = "both"
  authority = { email = "dest" }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

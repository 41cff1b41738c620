# error: Incomplete authority
# at: authority_incomplete.hcl:19
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
    phone = record.phone
  }
  direction = "both"
  authority = { email = "source" }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

# error: Filter is not a condition
# at: filter_not_condition.hcl:17
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
  filter = record.email
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

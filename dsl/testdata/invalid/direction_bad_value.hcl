# error: Invalid value for direction
# at: direction_bad_value.hcl:17
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
  direction = "push"
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

# error: Invalid use of row
# at: row_outside_reverse.hcl:15
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
    email = row.email
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

# error: reverse on a pull pipeline
# at: reverse_on_pull.hcl:18
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
  reverse = {
    email = row.email
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

# error: Reference to undeclared resource
# at: missing_resource.hcl:12
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.user
  destination = destination.db
  fields = {
    email = record.email
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

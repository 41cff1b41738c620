# error: Authority on a pull pipeline
# at: authority_on_pull.hcl:17
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
  authority = { "*" = "source" }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

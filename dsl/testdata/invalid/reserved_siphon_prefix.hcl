# error: Reserved field name
# at: reserved_siphon_prefix.hcl:15
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
    siphon_email = record.email
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

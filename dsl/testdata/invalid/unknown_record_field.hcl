# error: Did you mean "email"
# at: unknown_record_field.hcl:15
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
    email = record.emial
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

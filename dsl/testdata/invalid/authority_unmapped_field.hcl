# error: Authority for a field the mapping does not produce
# at: authority_unmapped_field.hcl:20
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
  authority = {
    "*"   = "source"
    phone = "destination"
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

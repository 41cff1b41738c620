# error: Duplicate key in fields
# at: fields_duplicate_key.hcl:16
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
    email = lower(record.email)
  }
}

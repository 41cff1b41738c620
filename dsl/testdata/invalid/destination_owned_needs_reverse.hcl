# error: Destination-owned field needs a reverse mapping
# at: destination_owned_needs_reverse.hcl:15
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
    email = lower(record.email)
  }
  direction = "both"
  authority = { "*" = "source", email = "destination" }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

# error: Invalid value for delivery
# at: delivery_bad_value.hcl:17
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
  delivery = "fast"
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

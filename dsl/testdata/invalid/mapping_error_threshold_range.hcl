# error: Invalid percentage for mapping_error_threshold
# at: mapping_error_threshold_range.hcl:17
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
  mapping_error_threshold = "120%"
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

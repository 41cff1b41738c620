# error: Reference to undeclared flag
# at: missing_flag.hcl:17
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
  rollout = flag.mapping_v2
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

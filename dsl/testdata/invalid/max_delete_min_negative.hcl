# error: Invalid value for max_delete_min
# at: max_delete_min_negative.hcl:18
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
  reconcile {
    max_delete_min = -1
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

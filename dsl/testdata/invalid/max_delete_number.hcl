# error: Invalid percentage for max_delete
# at: max_delete_number.hcl:18
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
    max_delete = 10
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

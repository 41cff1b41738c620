# error: Invalid weekly time
# at: bad_weekly_shape.hcl:18
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
    weekly = "04:00"
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

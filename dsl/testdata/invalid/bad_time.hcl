# error: Invalid time for daily
# at: bad_time.hcl:18
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
    daily = "25:00"
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

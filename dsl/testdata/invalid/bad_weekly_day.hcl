# error: invalid day
# at: bad_weekly_day.hcl:18
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
    weekly = "funday 04:00"
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

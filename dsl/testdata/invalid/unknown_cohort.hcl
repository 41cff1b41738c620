# error: Invalid value for cohort
# at: unknown_cohort.hcl:20
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
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
  cohort = "beta"
}

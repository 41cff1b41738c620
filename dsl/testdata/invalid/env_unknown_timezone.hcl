# error: Value unknown at plan time
# at: env_unknown_timezone.hcl:20
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
  timezone = env("TZ_NAME")
}

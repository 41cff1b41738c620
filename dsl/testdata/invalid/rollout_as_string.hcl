# error: Invalid reference in rollout
# at: rollout_as_string.hcl:21
flag "v2" {
  stages = ["internal"]
  stage  = "internal"
}
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
  rollout = "v2"
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

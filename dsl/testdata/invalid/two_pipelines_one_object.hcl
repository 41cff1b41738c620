# error: Two pipelines write one object
# at: two_pipelines_one_object.hcl:25
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
  fields      = { email = record.email }
}
pipeline "contacts" {
  resource    = resource.users
  destination = destination.db
  object      = "volunteers"
  fields      = { phone = record.phone }
}
tenant "acme" {
  pipelines = [
    pipeline.volunteers,
    pipeline.contacts,
  ]
}

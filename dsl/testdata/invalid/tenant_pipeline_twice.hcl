# error: Pipeline listed twice on a tenant
# at: tenant_pipeline_twice.hcl:21
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
  pipelines = [
    pipeline.volunteers,
    pipeline.volunteers,
  ]
}

# error: Did you mean "name"
# at: unknown_tenant_attribute.hcl:16
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
    email  = record.email
    org    = tenant.nmae
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

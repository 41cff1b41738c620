# error: Duplicate resource "users"
# at: duplicate_resource.hcl:11
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
resource "users" {
  source = source.vomo
  path   = "/users"
}

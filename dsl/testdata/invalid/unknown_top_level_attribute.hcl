# error: Unsupported argument
# at: unknown_top_level_attribute.hcl:3
cadence = "5m"
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}

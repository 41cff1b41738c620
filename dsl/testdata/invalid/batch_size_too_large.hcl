# error: Invalid value for batch_size
# at: batch_size_too_large.hcl:10
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin     = "sqlite"
  batch_size = 20000
}

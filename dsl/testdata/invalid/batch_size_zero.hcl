# error: from 1 to 10000
# at: batch_size_zero.hcl:10
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin     = "sqlite"
  batch_size = 0
}

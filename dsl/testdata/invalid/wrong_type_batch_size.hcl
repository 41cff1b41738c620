# error: Incorrect value type for batch_size
# at: wrong_type_batch_size.hcl:10
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin     = "sqlite"
  batch_size = "lots"
}

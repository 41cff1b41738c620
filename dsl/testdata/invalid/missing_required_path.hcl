# error: Missing required argument

source "vomo" {}
resource "users" {
  source = source.vomo
}

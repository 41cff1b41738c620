# error: Invalid expression
# at: malformed_missing_value.hcl:6
source "vomo" {}
resource "users" {
  source = source.vomo
  path   =
}

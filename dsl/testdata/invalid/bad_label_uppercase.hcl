# error: Invalid resource name
# at: bad_label_uppercase.hcl:4
source "vomo" {}
resource "Users" {
  source = source.vomo
  path   = "/users"
}

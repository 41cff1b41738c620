# error: parent_key without parent
# at: parent_key_without_parent.hcl:7
source "vomo" {}
resource "users" {
  source     = source.vomo
  path       = "/users"
  parent_key = record.id
}

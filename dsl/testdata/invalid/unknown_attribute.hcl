# error: Did you mean "primary_key"
# at: unknown_attribute.hcl:7
source "vomo" {}
resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_kee = "id"
}

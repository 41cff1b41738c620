# error: Invalid primary_key
# at: primary_key_not_string.hcl:7
source "vomo" {}
resource "forms" {
  source      = source.vomo
  path        = "/forms"
  primary_key = 5
}

# error: without quotes
# at: reference_as_string.hcl:5
source "vomo" {}
resource "users" {
  source = "vomo"
  path   = "/users"
}

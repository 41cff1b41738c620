# error: Did you mean "vomo"
# at: missing_source.hcl:5
source "vomo" {}
resource "users" {
  source = source.vomoo
  path   = "/users"
}

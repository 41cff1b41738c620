# error: Invalid reference here
# at: block_reference_as_value.hcl:9
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
source "other" {
  base_url = resource.users
}

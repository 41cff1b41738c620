# error: Did you mean "overlap"
# at: cursor_unknown_attribute.hcl:10
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
  cursor {
    field   = "updated_at"
    param   = "updated_after"
    overlab = "2m"
  }
}

# error: Did you mean "updated_at"
# at: cursor_field_not_in_schema.hcl:8
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
  cursor {
    field = "update_at"
    param = "updated_after"
  }
}

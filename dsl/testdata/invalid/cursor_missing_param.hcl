# error: The argument "param" is required
# at: cursor_missing_param.hcl:7
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
  cursor {
    field = "updated_at"
  }
}

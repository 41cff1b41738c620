# error: Did you mean "source"
# at: unknown_block.hcl:3
sorce "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}

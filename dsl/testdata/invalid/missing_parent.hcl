# error: Reference to undeclared resource
# at: missing_parent.hcl:14
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
resource "completions" {
  source = source.vomo
  path   = "/forms/{form_id}/completions"
  parent = resource.forms
}

# error: Wrong number of path placeholders
# at: parent_path_two_placeholders.hcl:17
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
resource "forms" {
  source = source.vomo
  path   = "/forms"
}
resource "completions" {
  source = source.vomo
  path   = "/forms/{form_id}/c/{user_id}"
  parent = resource.forms
}

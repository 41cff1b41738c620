# error: Wrong number of path placeholders
# at: parent_path_no_placeholder.hcl:17
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
  path   = "/forms/completions"
  parent = resource.forms
}

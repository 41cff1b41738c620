# error: Invalid resource path
# at: path_not_absolute.hcl:6
source "vomo" {}
resource "forms" {
  source = source.vomo
  path   = "forms"
}

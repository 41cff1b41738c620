# error: Reference to undeclared local value
# at: undeclared_local.hcl:10
locals {
  standard = "30m"
}
source "vomo" {}
resource "users" {
  source  = source.vomo
  path    = "/users"
  cadence = local.standrd
}

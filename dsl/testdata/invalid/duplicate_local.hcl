# error: Duplicate local "a"
# at: duplicate_local.hcl:7
locals {
  a = 1
}
locals {
  a = 2
}
source "vomo" {}

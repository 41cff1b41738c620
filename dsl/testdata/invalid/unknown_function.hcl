# error: Call to unknown function
# at: unknown_function.hcl:4
locals {
  x = lowr("A")
}
source "vomo" {}

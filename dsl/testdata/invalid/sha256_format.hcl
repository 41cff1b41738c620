# error: Invalid sha256
# at: sha256_format.hcl:6
source "vomo" {}
destination "x" {
  plugin = "mydest"
  sha256 = "abc"
}

# error: Unsupported store
# at: store_scheme.hcl:4
siphon {
  store = "mysql://db/siphon"
}
source "vomo" {}

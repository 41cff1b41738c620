# error: Cadence too short
# at: cadence_too_short.hcl:7
source "vomo" {}
resource "users" {
  source  = source.vomo
  path    = "/users"
  cadence = "10s"
}

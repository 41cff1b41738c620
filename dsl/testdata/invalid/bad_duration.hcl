# error: Invalid duration for cadence
# at: bad_duration.hcl:7
source "vomo" {}
resource "users" {
  source  = source.vomo
  path    = "/users"
  cadence = "5 minutes"
}

# error: Value unknown at plan time
# at: env_unknown_cadence.hcl:7
source "vomo" {}
resource "users" {
  source  = source.vomo
  path    = "/users"
  cadence = env("POLL_CADENCE")
}

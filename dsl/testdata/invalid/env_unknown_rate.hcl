# error: Value unknown at plan time
# at: env_unknown_rate.hcl:4
source "vomo" {
  rate_limit = env("VOMO_RATE")
}

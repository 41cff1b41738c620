# error: "60/1m"
# at: bad_rate_unit.hcl:4
source "vomo" {
  rate_limit = "60/minute"
}

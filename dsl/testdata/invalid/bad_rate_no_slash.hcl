# error: Invalid rate for global_rate_limit
# at: bad_rate_no_slash.hcl:4
source "vomo" {
  global_rate_limit = "3000"
}

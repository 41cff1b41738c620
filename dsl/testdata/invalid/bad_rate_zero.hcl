# error: at least 1
# at: bad_rate_zero.hcl:4
source "vomo" {
  rate_limit = "0/1m"
}

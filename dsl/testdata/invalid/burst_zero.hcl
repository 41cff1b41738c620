# error: rate_limit_burst must be a whole number from 1
# at: burst_zero.hcl:5
source "vomo" {
  rate_limit       = "60/1m"
  rate_limit_burst = 0
}

# error: rate_limit_burst 61 is more than the 60 requests
# at: burst_above_rate.hcl:5
source "vomo" {
  rate_limit       = "60/1m"
  rate_limit_burst = 61
}

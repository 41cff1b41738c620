# error: global_rate_limit_burst must be a whole number from 1
# at: burst_fraction.hcl:6
source "vomo" {
  rate_limit              = "60/1m"
  global_rate_limit       = "600/1m"
  global_rate_limit_burst = 2.5
}

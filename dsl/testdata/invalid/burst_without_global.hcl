# error: Burst without a global rate
# at: burst_without_global.hcl:5
source "vomo" {
  rate_limit              = "60/1m"
  global_rate_limit_burst = 10
}

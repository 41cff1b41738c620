# error: Invalid value for weight
# at: lane_weight_zero.hcl:4
lane "slow" {
  weight = 0
}
source "vomo" {}

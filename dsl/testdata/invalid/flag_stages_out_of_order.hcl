# error: Flag stages out of order
# at: flag_stages_out_of_order.hcl:4
flag "v2" {
  stages = ["10%", "internal"]
  stage  = "10%"
}

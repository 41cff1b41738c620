# error: Unknown flag stage
# at: flag_stage_not_in_stages.hcl:5
flag "v2" {
  stages = ["internal", "10%", "100%"]
  stage  = "50%"
}

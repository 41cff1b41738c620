# error: Did you mean "friendly"
# at: flag_bad_stage.hcl:4
flag "v2" {
  stages = ["internal", "freindly", "10%"]
  stage  = "10%"
}

# error: Percentage stages not ascending
# at: flag_percent_not_ascending.hcl:4
flag "v2" {
  stages = ["internal", "50%", "10%"]
  stage  = "internal"
}

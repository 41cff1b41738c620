# error: Value unknown at plan time
# at: env_unknown_stage.hcl:5
flag "v2" {
  stages = ["internal", "10%"]
  stage  = env("V2_STAGE")
}

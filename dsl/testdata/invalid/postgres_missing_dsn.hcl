# error: Missing postgres config attribute dsn
# at: postgres_missing_dsn.hcl:6
source "vomo" {}
destination "wh" {
  plugin = "postgres"
  config = {
    schema = "siphon"
  }
}

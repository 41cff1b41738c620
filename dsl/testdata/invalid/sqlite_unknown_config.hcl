# error: Did you mean "path"
# at: sqlite_unknown_config.hcl:7
source "vomo" {}
destination "db" {
  plugin = "sqlite"
  config = {
    pth = "data.db"
  }
}

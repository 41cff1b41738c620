# error: Unsupported block type
# at: unknown_nested_block.hcl:17
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields = {
    email = record.email
  }
  retries {
    max_attempts = 3
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}

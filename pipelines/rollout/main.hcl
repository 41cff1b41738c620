source "vomo" {
  base_url   = "http://127.0.0.1:8089/v1"
  rate_limit = "120/1m"
}

resource "users" {
  source  = source.vomo
  path    = "/users"
  cadence = "10m"
  cursor {
    field = "updated_at"
    param = "updated_after"
  }
}

destination "warehouse" {
  plugin = "sqlite"
  config = {
    path = ".siphon/destination.db"
  }
}

# The new mapping splits the name and keeps the phone; it reaches the
# internal cohort, the friendly cohort, then 10% of the other tenants.
# Move `stage` along `stages` to widen it; each tenant gets exactly one of
# the two pipelines.
flag "mapping_v2" {
  stages = ["internal", "friendly", "10%", "50%", "100%"]
  stage  = "10%"
}

pipeline "volunteers_v1" {
  resource    = resource.users
  destination = destination.warehouse
  object      = "volunteers"
  rollout     = !flag.mapping_v2
  fields = {
    email = lower(record.email)
    name  = record.full_name
  }
}

pipeline "volunteers_v2" {
  resource    = resource.users
  destination = destination.warehouse
  object      = "volunteers"
  rollout     = flag.mapping_v2
  fields = {
    email      = lower(record.email)
    first_name = record.first_name
    last_name  = record.last_name
    phone      = record.phone
  }
}

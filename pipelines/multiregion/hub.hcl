# The hub's own store keeps hub-wide state (global budgets, throttle, audit)
# and the state of tenants in regions without a store of their own.
siphon {
  store = "file:.siphon/hub.db"
}

source "vomo" {
  base_url          = "http://127.0.0.1:8089/v1"
  rate_limit        = "120/1m"
  global_rate_limit = "1200/1m"
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

pipeline "volunteers" {
  resource    = resource.users
  destination = destination.warehouse
  fields = {
    email = lower(record.email)
    phone = record.phone
  }
}

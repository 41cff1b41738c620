# Data residency: each region's tenants keep their state in that region's
# store only. The EU store comes from the environment when it is set, and is
# redacted in plan output either way.
region "us" {
  store = "file:.siphon/us.db"
}

region "eu" {
  store = env("SIPHON_EU_STORE", "file:.siphon/eu.db")
}

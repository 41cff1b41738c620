vomo_url = "https://api.vomo.org/v1"
tenants = {
  acme   = { zone = "America/New_York", cohort = "internal" }
  globex = { zone = "Asia/Kolkata" }
}

# error: Unknown field in primary_key
# at: primary_key_not_in_schema.hcl:4
source "vomo" {}
resource "participations" {
  source  = source.vomo
  path    = "/projects/date/{date_id}"
  parent  = resource.dates
  cadence = "10m"
}
resource "dates" {
  source = source.vomo
  path   = "/project_dates"
}

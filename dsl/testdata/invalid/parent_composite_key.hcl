# error: Parent with a composite key needs parent_key
# at: parent_composite_key.hcl:12
source "vomo" {}
resource "dates" {
  source      = source.vomo
  path        = "/project_dates"
  primary_key = ["project_id", "date"]
}
resource "participations" {
  source = source.vomo
  path   = "/projects/date/{date_id}"
  parent = resource.dates
}

# error: Invalid use of record
# at: record_outside_mapping.hcl:4
source "vomo" {
  base_url = record.url
}

# error: Invalid value for kind
# at: source_kind.hcl:4
source "vomo" {
  kind = "salesforce"
}

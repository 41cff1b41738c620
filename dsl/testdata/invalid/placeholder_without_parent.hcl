# error: Path placeholder without parent
# at: placeholder_without_parent.hcl:6
source "vomo" {}
resource "completions" {
  source = source.vomo
  path   = "/forms/{form_id}/completions"
}

# error: Cycle in resource parents
# at: parent_cycle.hcl:7
source "vomo" {}
resource "a" {
  source = source.vomo
  path   = "/a/{b_id}/x"
  parent = resource.b
}
resource "b" {
  source = source.vomo
  path   = "/b/{a_id}/y"
  parent = resource.a
}

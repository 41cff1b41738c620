# error: Cycle in locals
# at: locals_cycle.hcl:4
locals {
  a = local.b
  b = "${local.a}x"
}

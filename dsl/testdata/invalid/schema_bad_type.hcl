# error: Did you mean "number"
# at: schema_bad_type.hcl:8
source "vomo" {}
resource "forms" {
  source = source.vomo
  path   = "/forms"
  schema {
    id = "nubmer"
  }
}

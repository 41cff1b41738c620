# error: Invalid value for fields
# at: fields_not_object.hcl:17
variable "fields" {
  default = { email = "x" }
}
source "vomo" {}
resource "users" {
  source = source.vomo
  path   = "/users"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields      = var.fields
}

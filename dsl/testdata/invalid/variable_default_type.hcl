# error: Invalid default value for variable
# at: variable_default_type.hcl:5
variable "n" {
  type    = number
  default = "many"
}
source "vomo" {}

# error: No value for required variable
# at: variable_required.hcl:3
variable "vomo_url" {
  type = string
}
source "vomo" {}

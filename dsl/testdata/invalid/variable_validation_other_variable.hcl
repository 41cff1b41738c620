# error: Invalid reference in variable validation
# at: variable_validation_other_variable.hcl:9
variable "min" {
  default = 1
}
variable "batch" {
  default = 5
  validation {
    condition     = var.batch >= var.min
    error_message = "batch must be at least min."
  }
}
source "vomo" {}

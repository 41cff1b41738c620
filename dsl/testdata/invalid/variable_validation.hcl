# error: batch must be from 1 to 10000

variable "batch" {
  type    = number
  default = 0
  validation {
    condition     = var.batch >= 1 && var.batch <= 10000
    error_message = "batch must be from 1 to 10000."
  }
}
source "vomo" {}

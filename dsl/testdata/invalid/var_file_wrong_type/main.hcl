variable "batch" {
  type    = number
  default = 500
}

source "vomo" {}

# error: Duplicate variable
# at: duplicate_variable.hcl:4
variable "x" {}
variable "x" {}
source "vomo" {}

# error: Reference to undeclared variable
# at: undeclared_variable.hcl:7
variable "vomo_url" {
  default = "https://x"
}
source "vomo" {
  base_url = var.vomo_ulr
}

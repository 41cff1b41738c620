# A configuration split over files, with variables from an auto.vars file.
variable "vomo_url" {
  type = string
}

variable "tenants" {
  type = map(object({
    zone   = string
    cohort = optional(string, "none")
  }))
}

source "vomo" {
  base_url   = var.vomo_url
  rate_limit = "120/1m"
}

# The VOMO API. The demo points at the simulator (`bin/vomosim`) on its
# default address; pass -var vomo_url=... to plan against another one.
variable "vomo_url" {
  type    = string
  default = "http://127.0.0.1:8089/v1"
}

source "vomo" {
  kind              = "vomo"
  base_url          = var.vomo_url
  timeout           = "30s"
  rate_limit        = "600/1m"
  global_rate_limit = "6000/1m"
  retry {
    attempts    = 6
    backoff     = "1s"
    max_backoff = "2m"
  }
}

# Every block kind and most attributes, as DESIGN.md §3 shows them.
siphon {
  store = "redis://127.0.0.1:6379/0"
}

variable "vomo_url" {
  type    = string
  default = "https://api.vomo.org/v1"
}

variable "batch" {
  type        = number
  default     = 250
  description = "rows per destination write"
  validation {
    condition     = var.batch >= 1 && var.batch <= 10000
    error_message = "batch must be from 1 to 10000."
  }
}

variable "api_token" {
  type      = string
  default   = "t0ken"
  sensitive = true
}

locals {
  standard = "30m"
  fast     = "5m"
}

source "vomo" {
  kind              = "vomo"
  base_url          = var.vomo_url
  timeout           = "30s"
  rate_limit        = "60/1m"
  global_rate_limit = "3000/1m"
  retry {
    attempts    = 6
    backoff     = "1s"
    max_backoff = "2m"
  }
}

resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cursor {
    field   = "updated_at"
    param   = "updated_after"
    overlap = "2m"
    settle  = "30s"
  }
  cadence = local.standard
}

resource "forms" {
  source  = source.vomo
  path    = "/forms"
  cadence = "1h"
}

resource "form_completions" {
  source      = source.vomo
  path        = "/forms/{form_id}/completions"
  parent      = resource.forms
  primary_key = ["form_id", "user_id"]
  version     = "hash"
  cadence     = local.fast
  schema {
    form_id      = "number"
    user_id      = "number"
    completed_at = "timestamp"
  }
}

destination "warehouse" {
  plugin = "postgres"
  config = {
    dsn    = env("WAREHOUSE_DSN")
    schema = "siphon"
  }
  batch_size = var.batch
  timeout    = "30s"
  circuit_breaker {
    failures = 5
    cooldown = "1m"
  }
}

destination "local" {
  plugin            = "sqlite"
  allow_single_node = true
}

pipeline "volunteers" {
  resource    = resource.users
  destination = destination.warehouse
  object      = "volunteers"
  filter      = record.membership_status != "REMOVED"
  fields = {
    email     = lower(record.email)
    full_name = "${coalesce(record.first_name, "")} ${coalesce(record.last_name, "")}"
    phone     = record.phone
  }
  delivery = "queue"
  isolate  = false
  retry {
    max_attempts = 8
  }
  reconcile {
    daily          = "03:00"
    weekly         = "sun 04:00"
    max_delete     = "10%"
    max_delete_min = 25
  }
  mapping_error_threshold = "20%"
  direction               = "both"
  authority = {
    email = "source"
    phone = "destination"
    "*"   = "source"
  }
  rollout = flag.mapping_v2
}

pipeline "volunteers_v1" {
  resource    = resource.users
  destination = destination.warehouse
  object      = "volunteers"
  fields = {
    email = record.email
  }
  rollout = !flag.mapping_v2
}

pipeline "completions" {
  resource    = resource.form_completions
  destination = destination.local
  fields = {
    form_id = record.form_id
    user_id = record.user_id
  }
}

tenant "acme" {
  name        = "Acme Food Bank"
  region      = "us"
  timezone    = "America/Chicago"
  lane        = "premium"
  cohort      = "internal"
  credentials = "acme"
  pipelines   = [pipeline.volunteers, pipeline.volunteers_v1, pipeline.completions]
  cadence     = { volunteers = "5m" }
  rate_limit  = "120/1m"
  enabled     = true
  backfill_at = "01:30"
}

tenant "globex" {
  region    = "eu"
  timezone  = "Europe/Berlin"
  pipelines = [pipeline.volunteers, pipeline.volunteers_v1]
}

tenant "initech" {
  pipelines = [pipeline.volunteers_v1]
  enabled   = false
}

lane "premium" { weight = 3 }
lane "standard" { weight = 1 }

flag "mapping_v2" {
  stages = ["internal", "friendly", "10%", "50%", "100%"]
  stage  = "10%"
}

region "us" {}

region "eu" {
  store = env("EU_STORE", "redis://eu.example:6379/0")
}

# Three customers in three time zones: each gets its own schedule, budget
# and reconcile times in its local time.
tenant "acme" {
  name      = "Acme Food Bank"
  timezone  = "America/Chicago"
  lane      = "premium"
  cohort    = "internal"
  pipelines = [pipeline.volunteers, pipeline.projects, pipeline.form_answers]
  cadence   = { volunteers = "2m" }
}

tenant "kiez" {
  name      = "Kiez Tafel Berlin"
  timezone  = "Europe/Berlin"
  pipelines = [pipeline.volunteers, pipeline.projects, pipeline.form_answers]
}

tenant "harbour" {
  name       = "Harbour Volunteers"
  timezone   = "Australia/Sydney"
  pipelines  = [pipeline.volunteers, pipeline.form_answers]
  rate_limit = "300/1m"
}

lane "premium" {
  weight = 3
}

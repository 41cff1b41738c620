tenant "acme" {
  timezone  = "America/Chicago"
  cohort    = "internal"
  pipelines = [pipeline.volunteers_v1, pipeline.volunteers_v2]
}

tenant "kiez" {
  timezone  = "Europe/Berlin"
  cohort    = "friendly"
  pipelines = [pipeline.volunteers_v1, pipeline.volunteers_v2]
}

tenant "harbour" {
  timezone  = "Australia/Sydney"
  pipelines = [pipeline.volunteers_v1, pipeline.volunteers_v2]
}

tenant "sunrise" {
  timezone  = "America/Los_Angeles"
  pipelines = [pipeline.volunteers_v1, pipeline.volunteers_v2]
}

tenant "thames" {
  timezone  = "Europe/London"
  pipelines = [pipeline.volunteers_v1, pipeline.volunteers_v2]
}

tenant "lakeside" {
  timezone  = "America/New_York"
  pipelines = [pipeline.volunteers_v1, pipeline.volunteers_v2]
}

tenant "acme" {
  name      = "Acme Food Bank"
  region    = "us"
  timezone  = "America/Chicago"
  pipelines = [pipeline.volunteers]
}

tenant "sunrise" {
  name      = "Sunrise Shelter"
  region    = "us"
  timezone  = "America/Los_Angeles"
  pipelines = [pipeline.volunteers]
}

tenant "kiez" {
  name      = "Kiez Tafel Berlin"
  region    = "eu"
  timezone  = "Europe/Berlin"
  pipelines = [pipeline.volunteers]
}

tenant "thames" {
  name      = "Thames Volunteers"
  region    = "eu"
  timezone  = "Europe/London"
  pipelines = [pipeline.volunteers]
}

# No region: the hub's store.
tenant "harbour" {
  name      = "Harbour Volunteers"
  timezone  = "Australia/Sydney"
  pipelines = [pipeline.volunteers]
}

# Where the records go: one local SQLite file, and one table per pipeline.
destination "local" {
  plugin = "sqlite"
  config = {
    path = ".siphon/destination.db"
  }
  batch_size = 500
}

pipeline "volunteers" {
  resource    = resource.users
  destination = destination.local
  filter      = record.membership_status != "REMOVED"
  fields = {
    email     = lower(record.email)
    full_name = "${coalesce(record.first_name, "")} ${coalesce(record.last_name, "")}"
    phone     = record.phone
    status    = record.membership_status
  }
  reconcile {
    daily  = "03:00"
    weekly = "sun 04:00"
  }
}

pipeline "projects" {
  resource    = resource.projects
  destination = destination.local
  fields = {
    name        = record.name
    description = record.description
  }
}

pipeline "form_answers" {
  resource    = resource.form_completions
  destination = destination.local
  object      = "form_completions"
  fields = {
    form_id = record.form_id
    user_id = record.user_id
    answers = jsonencode(record.answers)
  }
}

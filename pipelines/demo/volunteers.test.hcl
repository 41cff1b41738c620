# Mapping tests of the volunteers pipeline: siphon test pipelines/demo runs
# them through the same compiled filter and mapping as siphon run.
test "volunteer_is_mapped" {
  pipeline = pipeline.volunteers
  tenant   = "acme"
  record = {
    id                = 101
    email             = "Ada.Lovelace@Example.org"
    first_name        = "Ada"
    last_name         = "Lovelace"
    phone             = "+1 312 555 0101"
    membership_status = "ACTIVE"
  }
  expect = {
    email     = "ada.lovelace@example.org"
    full_name = "Ada Lovelace"
    phone     = "+1 312 555 0101"
    status    = "ACTIVE"
  }
}

test "missing_last_name_keeps_the_first" {
  pipeline = pipeline.volunteers
  record   = { id = 102, email = "grace@example.org", first_name = "Grace", membership_status = "PENDING" }
  expect   = { full_name = "Grace " }
}

test "removed_volunteer_is_filtered_out" {
  pipeline        = pipeline.volunteers
  record          = { id = 103, email = "gone@example.org", membership_status = "REMOVED" }
  expect_filtered = true
}

test "volunteer_without_email_fails" {
  pipeline     = pipeline.volunteers
  record       = { id = 104, first_name = "No", last_name = "Email", membership_status = "ACTIVE" }
  expect_error = "field email"
}

# Records saved from the API (a VOMO list page works too), checked against
# a golden file: siphon test -update rewrites it after an intended change.
test "saved_users_page" {
  pipeline = pipeline.volunteers
  tenant   = "kiez"
  records  = file("fixtures/users.json")
  golden   = "fixtures/users.golden.json"
}

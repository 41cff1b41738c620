test "maps_one_record" {
  pipeline = pipeline.volunteers
  tenant   = "acme"
  record = {
    id                = 1
    email             = "Ada@Example.org"
    first_name        = "Ada"
    last_name         = "Lovelace"
    membership_status = "ACTIVE"
    address           = { city = "London" }
    score             = 21
  }
  expect = {
    email     = "ada@example.org"
    full_name = "Ada Lovelace"
    org       = "Acme Food Bank"
    city      = "London"
    score     = 42
    phone     = null
  }
}

test "without_a_tenant" {
  pipeline = pipeline.volunteers
  record   = { email = "x@example.org", score = 1 }
  expect   = { org = "" }
}

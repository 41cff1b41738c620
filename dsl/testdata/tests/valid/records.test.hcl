test "inline_records" {
  pipeline = pipeline.volunteers
  records = [
    { id = 1, email = "A@X.ORG", score = 0 },
    { id = 2, email = "b@x.org", score = 0.25 },
  ]
  expect = [
    { email = "a@x.org", score = 0 },
    { email = "b@x.org", score = 0.5 },
  ]
}

test "fixture_per_record" {
  pipeline = pipeline.volunteers
  records  = file("fixtures/page.json")
  expect   = [{ email = "kay@example.org", score = 3 }]
}

test "fixture_golden" {
  pipeline = pipeline.volunteers
  tenant   = "acme"
  records  = file("fixtures/users.json")
  golden   = "fixtures/users.golden.json"
}

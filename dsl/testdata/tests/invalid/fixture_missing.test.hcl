# error: Cannot read the fixture file
# at: fixture_missing.test.hcl:5
test "missing" {
  pipeline        = pipeline.volunteers
  records         = file("fixtures/nope.json")
  expect_filtered = true
}

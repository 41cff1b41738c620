# error: More than one expectation
# at: two_expectations.test.hcl:7
test "both" {
  pipeline        = pipeline.volunteers
  record          = { id = 1 }
  expect          = { email = null }
  expect_filtered = true
}

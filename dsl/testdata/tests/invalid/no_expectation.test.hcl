# error: Missing expectation
# at: no_expectation.test.hcl:3
test "nothing" {
  pipeline = pipeline.volunteers
  record   = { id = 1 }
}

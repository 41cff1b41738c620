# error: Expected field the mapping does not produce
# at: expect_unmapped_field.test.hcl:7
test "typo" {
  pipeline = pipeline.volunteers
  record   = { id = 1, email = "a@example.org" }
  expect = {
    emial = "a@example.org"
  }
}

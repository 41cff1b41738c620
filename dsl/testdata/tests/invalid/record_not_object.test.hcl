# error: Invalid record
# at: record_not_object.test.hcl:5
test "string" {
  pipeline        = pipeline.volunteers
  record          = "id=1"
  expect_filtered = true
}

# error: Duplicate test "twice"
# at: duplicate.test.hcl:8
test "twice" {
  pipeline        = pipeline.volunteers
  record          = { membership_status = "REMOVED" }
  expect_filtered = true
}
test "twice" {
  pipeline        = pipeline.volunteers
  record          = { membership_status = "REMOVED" }
  expect_filtered = true
}

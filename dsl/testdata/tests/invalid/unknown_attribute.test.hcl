# error: Unsupported argument
# at: unknown_attribute.test.hcl:6
test "typo" {
  pipeline        = pipeline.volunteers
  record          = { membership_status = "REMOVED" }
  expect_filterd  = true
}

# error: write pipeline.volunteers without quotes
# at: pipeline_as_string.test.hcl:4
test "quoted" {
  pipeline        = "volunteers"
  record          = { membership_status = "REMOVED" }
  expect_filtered = true
}

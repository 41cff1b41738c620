# error: Reference to an undeclared pipeline
# at: unknown_pipeline.test.hcl:4
test "typo" {
  pipeline = pipeline.volunters
  record   = { id = 1 }
  expect   = { email = null }
}

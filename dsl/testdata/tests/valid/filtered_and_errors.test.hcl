test "removed_is_filtered" {
  pipeline        = pipeline.volunteers
  record          = { id = 2, membership_status = "REMOVED" }
  expect_filtered = true
}

test "bad_score_fails" {
  pipeline     = pipeline.volunteers
  record       = { id = 3, email = "a@example.org", score = "many" }
  expect_error = "field score"
}

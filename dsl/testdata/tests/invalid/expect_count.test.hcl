# error: expect has 1 entries for 2 records
# at: expect_count.test.hcl:6
test "count" {
  pipeline = pipeline.volunteers
  records  = [{ id = 1 }, { id = 2 }]
  expect   = [{ email = null }]
}

# error: record 2 is a number, not an object
# at: not_objects.json:3
test "numbers" {
  pipeline        = pipeline.volunteers
  records         = file("fixtures/not_objects.json")
  expect_filtered = true
}

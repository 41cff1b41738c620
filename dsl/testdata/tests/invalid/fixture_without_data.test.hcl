# error: the file must hold an array, or an object with "data" holding one
# at: no_data.json:1
test "no_data" {
  pipeline        = pipeline.volunteers
  records         = file("fixtures/no_data.json")
  expect_filtered = true
}

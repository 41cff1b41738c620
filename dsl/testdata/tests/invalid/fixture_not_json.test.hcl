# error: Invalid fixture file
# at: broken.json:3
test "broken" {
  pipeline = pipeline.volunteers
  records  = file("fixtures/broken.json")
  golden   = "fixtures/users.golden.json"
}

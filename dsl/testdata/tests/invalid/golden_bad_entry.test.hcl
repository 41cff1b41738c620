# error: entry 1: want exactly one of "output", "filtered" and "error"
# at: bad.golden.json:1
test "bad_golden" {
  pipeline = pipeline.volunteers
  records  = file("fixtures/users.json")
  golden   = "fixtures/bad.golden.json"
}

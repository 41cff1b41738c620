# error: entry 2: want exactly one of "output", "filtered" and "error"
# at: bad.golden.json:3
test "bad_golden" {
  pipeline = pipeline.volunteers
  records  = file("fixtures/users.json")
  golden   = "fixtures/bad.golden.json"
}

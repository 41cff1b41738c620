# error: Run siphon test -update to write it
# at: golden_missing.test.hcl:6
test "no_golden_yet" {
  pipeline = pipeline.volunteers
  records  = file("fixtures/users.json")
  golden   = "fixtures/nope.golden.json"
}

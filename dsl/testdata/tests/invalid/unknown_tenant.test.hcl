# error: There is no tenant "acne"
# at: unknown_tenant.test.hcl:5
test "typo" {
  pipeline = pipeline.volunteers
  tenant   = "acne"
  record   = { id = 1 }
  expect   = { email = null }
}

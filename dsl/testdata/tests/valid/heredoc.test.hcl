test "records_as_json_text" {
  pipeline        = pipeline.volunteers
  records         = <<-JSON
    [{"id": 1, "membership_status": "REMOVED"}, {"id": 2, "membership_status": "REMOVED"}]
  JSON
  expect_filtered = true
}

# error: Missing required argument

destination "db" {
}
